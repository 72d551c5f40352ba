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

// length checks that s has min..max code points, is valid UTF-8 and
// holds no NUL character, which neither database can store.
func (v *validator) length(field, s string, min, max int) {
	n := utf8.RuneCountInString(s)
	switch {
	case !utf8.ValidString(s):
		v.add(field, "must be valid UTF-8")
	case hasNUL(s):
		v.add(field, "must not contain the NUL character")
	case n < min && min == 1:
		v.add(field, "must not be empty")
	case n < min:
		v.add(field, "must be at least "+strconv.Itoa(min)+" characters")
	case n > max:
		v.add(field, "must be at most "+strconv.Itoa(max)+" characters")
	}
}

// hasNUL reports whether any of ss contains the NUL character. Neither
// database can hold one, so an ID that contains it names nothing: the
// methods answer as for an unknown ID without sending it to the database.
func hasNUL(ss ...string) bool {
	for _, s := range ss {
		if strings.IndexByte(s, 0) >= 0 {
			return true
		}
	}
	return false
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
