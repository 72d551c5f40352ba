package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/taskboard/taskboard"
)

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":"Internal Server Error"}`, http.StatusInternalServerError)
		return
	}
	writeRaw(w, status, body)
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if status != http.StatusNoContent && status != http.StatusNotModified {
		w.Write(body)
		w.Write([]byte("\n"))
	}
}

// readBody reads a request body of at most limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, errTooLarge
	}
	if err != nil {
		return nil, errMalformedJSON
	}
	return body, nil
}

// decodeBody decodes a JSON object body into v, whatever the declared
// content type. Unknown fields are ignored; a field of the wrong type is a
// validation error naming it.
func decodeBody(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return &taskboard.ValidationError{Fields: []taskboard.FieldError{{
				Path: strings.Split(typeErr.Field, "."), Message: "must be " + jsonKind(typeErr.Type.Kind().String()),
			}}}
		}
		var fieldErr *fieldError
		if errors.As(err, &fieldErr) {
			return &taskboard.ValidationError{Fields: []taskboard.FieldError{{Path: []string{fieldErr.field}, Message: fieldErr.msg}}}
		}
		return errMalformedJSON
	}
	if dec.More() {
		return errMalformedJSON
	}
	if _, err := dec.Token(); err != io.EOF {
		return errMalformedJSON
	}
	return nil
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "ptr", "struct":
		return "a string or null"
	case "bool":
		return "a boolean"
	case "map":
		return "an object"
	}
	return "a " + k
}

type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

// optString is a request field that may be absent, null or a string.
type optString struct {
	Set   bool
	Value *string
	Bad   bool
}

// UnmarshalJSON accepts null or a string.
func (o *optString) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Value = nil
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		o.Bad = true
		return nil
	}
	o.Value = &s
	return nil
}

// optPosition is a request position: absent, or a non-negative integer.
type optPosition struct {
	Set   bool
	Value int
	Bad   bool
}

// UnmarshalJSON accepts a JSON number that is a non-negative integer and
// marks anything else as bad.
func (p *optPosition) UnmarshalJSON(b []byte) error {
	p.Set = true
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || n < 0 || n > 1<<31 {
		if f, ferr := strconv.ParseFloat(string(b), 64); ferr == nil && f >= 0 && f == float64(int64(f)) && f <= 1<<31 {
			p.Value = int(f)
			return nil
		}
		p.Bad = true
		return nil
	}
	p.Value = int(n)
	return nil
}

// ptr returns the position as a *int, or nil when absent.
func (p optPosition) ptr() *int {
	if !p.Set {
		return nil
	}
	v := p.Value
	return &v
}

// reqString is a required or optional string field that must not be null or
// of another type when present.
type reqString struct {
	Set   bool
	Value string
	Bad   bool
}

// UnmarshalJSON accepts a string and marks anything else as bad.
func (s *reqString) UnmarshalJSON(b []byte) error {
	s.Set = true
	if err := json.Unmarshal(b, &s.Value); err != nil || string(b) == "null" {
		s.Bad = true
	}
	return nil
}

// fieldChecks collects problems found while reading a body.
type fieldChecks struct{ fields []taskboard.FieldError }

func (c *fieldChecks) add(field, msg string) {
	c.fields = append(c.fields, taskboard.FieldError{Path: []string{field}, Message: msg})
}

// required checks a string field that must be present.
func (c *fieldChecks) required(field string, s reqString) {
	switch {
	case !s.Set:
		c.add(field, "is required")
	case s.Bad:
		c.add(field, "must be a string")
	}
}

// optional checks a string field that may be absent.
func (c *fieldChecks) optional(field string, s reqString) {
	if s.Set && s.Bad {
		c.add(field, "must be a string")
	}
}

// nullable checks a field that may be absent, null or a string.
func (c *fieldChecks) nullable(field string, s optString) {
	if s.Bad {
		c.add(field, "must be a string or null")
	}
}

// role checks a required role field.
func (c *fieldChecks) role(field string, s reqString) {
	c.required(field, s)
	if s.Set && !s.Bad && !taskboard.Role(s.Value).Valid() {
		c.add(field, "must be owner, editor or viewer")
	}
}

// position checks a position field.
func (c *fieldChecks) position(field string, p optPosition, required bool) {
	switch {
	case !p.Set && required:
		c.add(field, "is required")
	case p.Bad:
		c.add(field, "must be a non-negative integer")
	}
}

func (c *fieldChecks) err() error {
	if len(c.fields) == 0 {
		return nil
	}
	return &taskboard.ValidationError{Fields: c.fields}
}
