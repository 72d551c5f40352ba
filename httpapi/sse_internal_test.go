package httpapi

import (
	"bytes"
	"strings"
	"testing"
)

// parseSSEFrames parses a stream the way EventSource does: fields per line,
// data lines joined with "\n", a blank line ending each frame.
func parseSSEFrames(t testing.TB, stream []byte) []map[string]string {
	t.Helper()
	var frames []map[string]string
	cur := map[string]string{}
	var data []string
	for _, line := range strings.Split(string(stream), "\n") {
		if strings.Contains(line, "\r") {
			t.Fatalf("raw CR inside a line: %q", line)
		}
		if line == "" {
			if len(cur) > 0 || data != nil {
				if data != nil {
					cur["data"] = strings.Join(data, "\n")
				}
				frames = append(frames, cur)
			}
			cur, data = map[string]string{}, nil
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		if field == "data" {
			data = append(data, value)
			continue
		}
		if _, dup := cur[field]; dup {
			t.Fatalf("field %q twice in one frame of %q", field, stream)
		}
		cur[field] = value
	}
	return frames
}

func TestAppendSSEFrame(t *testing.T) {
	tests := []struct {
		name, id, event, data string
		want                  string
		wantData              string
	}{
		{"plain", "12", "task_moved", `{"a":1}`, "id: 12\nevent: task_moved\ndata: {\"a\":1}\n\n", `{"a":1}`},
		{"no id", "", "user_typing", `{}`, "event: user_typing\ndata: {}\n\n", `{}`},
		{"data only", "", "", `{"type":"connected"}`, "data: {\"type\":\"connected\"}\n\n", `{"type":"connected"}`},
		{"newline in data", "1", "x", "a\nb", "id: 1\nevent: x\ndata: a\ndata: b\n\n", "a\nb"},
		{"crlf in data", "1", "x", "a\r\nb\rc", "id: 1\nevent: x\ndata: a\ndata: b\ndata: c\n\n", "a\nb\nc"},
		{"blank lines in data", "1", "x", "a\n\nb\n", "id: 1\nevent: x\ndata: a\ndata: \ndata: b\ndata: \n\n", "a\n\nb\n"},
		{"data: inside data", "1", "x", "title data: id: 9\n\nevent: evil", "id: 1\nevent: x\ndata: title data: id: 9\ndata: \ndata: event: evil\n\n", "title data: id: 9\n\nevent: evil"},
		{"newline in id and event", "1\n\ndata: x", "a\r\nb", "{}", "id: 1data: x\nevent: ab\ndata: {}\n\n", "{}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := appendSSEFrame(nil, tt.id, tt.event, []byte(tt.data))
			if string(got) != tt.want {
				t.Errorf("appendSSEFrame(%q, %q, %q) = %q, want %q", tt.id, tt.event, tt.data, got, tt.want)
			}
			frames := parseSSEFrames(t, got)
			if len(frames) != 1 {
				t.Fatalf("appendSSEFrame(%q, %q, %q) parses as %d frames, want 1", tt.id, tt.event, tt.data, len(frames))
			}
			if frames[0]["data"] != tt.wantData {
				t.Errorf("data parses back as %q, want %q", frames[0]["data"], tt.wantData)
			}
		})
	}
}

func FuzzAppendSSEFrame(f *testing.F) {
	f.Add("12", "task_moved", []byte(`{"title":"a\nb"}`))
	f.Add("", "", []byte("data: x\r\n\r\nid: 3"))
	f.Add("1\n", "e\r", []byte("\r\r\n\n"))
	f.Fuzz(func(t *testing.T, id, event string, data []byte) {
		got := appendSSEFrame([]byte("prefix\n\n"), id, event, data)
		got = got[len("prefix\n\n"):]
		if !bytes.HasSuffix(got, []byte("\n\n")) {
			t.Fatalf("frame %q does not end with a blank line", got)
		}
		body := got[:len(got)-2]
		if bytes.Contains(body, []byte("\n\n")) || bytes.ContainsRune(body, '\r') {
			t.Fatalf("frame %q ends early or holds a raw CR", got)
		}
		for _, line := range strings.Split(string(body), "\n") {
			if !strings.HasPrefix(line, "id: ") && !strings.HasPrefix(line, "event: ") && !strings.HasPrefix(line, "data: ") {
				t.Fatalf("frame %q has a line that is not a field: %q", got, line)
			}
		}
		frames := parseSSEFrames(t, got)
		if len(frames) != 1 {
			t.Fatalf("frame %q parses as %d frames", got, len(frames))
		}
		want := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(string(data))
		if frames[0]["data"] != want {
			t.Fatalf("data %q parses back as %q, want %q", data, frames[0]["data"], want)
		}
	})
}
