package httpapi

import (
	"errors"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
)

// FuzzStreamParams feeds the resume and polling parameters (Last-Event-ID,
// after, since, timeout, limit) arbitrary text: each is either accepted
// within its range or refused with a validation error naming it.
func FuzzStreamParams(f *testing.F) {
	for _, s := range []string{"", "0", "12", "-1", "1e3", " 7", "9223372036854775807", "9223372036854775808",
		"2026-11-27T14:00:00Z", "2026-11-27T14:00:00+02:00", "yesterday", "61", "0x10", "\x00", "1\n2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		wantInvalid := func(what string, err error) {
			t.Helper()
			var verr *taskboard.ValidationError
			if !errors.As(err, &verr) || len(verr.Fields) != 1 || verr.Fields[0].Path[0] != what {
				t.Fatalf("%s %q: got error %v, want a validation error naming %s", what, v, err, what)
			}
		}
		for _, field := range []string{"after", "Last-Event-ID"} {
			if n, err := parseSeq(field, v); err != nil {
				wantInvalid(field, err)
			} else if n < 0 {
				t.Fatalf("%s %q: accepted as %d", field, v, n)
			}
		}
		if n, err := parseTimeout(v); err != nil {
			wantInvalid("timeout", err)
		} else if n < 1 || n > pollMaxTimeout {
			t.Fatalf("timeout %q: accepted as %d", v, n)
		}
		if n, err := parseLimit(v); err != nil {
			wantInvalid("limit", err)
		} else if n < 1 || n > taskboard.MaxPage {
			t.Fatalf("limit %q: accepted as %d", v, n)
		}
		if ts, err := parseSince(v); err != nil {
			wantInvalid("since", err)
		} else if v != "" && ts.IsZero() && v != "0001-01-01T00:00:00Z" {
			if _, perr := time.Parse(time.RFC3339, v); perr != nil {
				t.Fatalf("since %q: accepted an invalid time", v)
			}
		}
	})
}
