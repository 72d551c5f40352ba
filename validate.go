package taskboard

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits of the API, in Unicode code points.
const (
	MaxTitleLength       = 500
	MaxDescriptionLength = 10000
	MaxNameLength        = 200
)

// validator collects field errors.
type validator struct{ fields []FieldError }

func (v *validator) add(field, msg string) {
	v.fields = append(v.fields, FieldError{Path: []string{field}, Message: msg})
}

// length checks that s has min..max code points.
func (v *validator) length(field, s string, min, max int) {
	n := utf8.RuneCountInString(s)
	switch {
	case !utf8.ValidString(s):
		v.add(field, "must be valid UTF-8")
	case n < min && min == 1:
		v.add(field, "must not be empty")
	case n < min:
		v.add(field, "must be at least "+strconv.Itoa(min)+" characters")
	case n > max:
		v.add(field, "must be at most "+strconv.Itoa(max)+" characters")
	}
}

func (v *validator) position(field string, p *int) {
	if p != nil && *p < 0 {
		v.add(field, "must be a non-negative integer")
	}
}

func (v *validator) email(field, s string) {
	v.length(field, s, 3, 254)
	at := strings.IndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.ContainsAny(s, " \t\r\n") {
		v.add(field, "must be an email address")
	}
}

func (v *validator) err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return &ValidationError{Fields: v.fields}
}
