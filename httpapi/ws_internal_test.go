package httpapi

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseClientMessage(t *testing.T) {
	tests := []struct {
		in      string
		want    clientMessage
		problem string
	}{
		{`{"type":"ping"}`, clientMessage{Type: "ping", After: -1}, ""},
		{`{"type":"join","boardId":"board-1"}`, clientMessage{Type: "join", BoardID: "board-1", After: -1}, ""},
		{`{"type":"join","boardId":"board-1","after":12}`, clientMessage{Type: "join", BoardID: "board-1", After: 12}, ""},
		{`{"type":"join","boardId":"board-1","after":0}`, clientMessage{Type: "join", BoardID: "board-1", After: 0}, ""},
		{`{"type":"join","boardId":"board-1","after":12.0}`, clientMessage{Type: "join", BoardID: "board-1", After: 12}, ""},
		{`{"type":"join","boardId":"board-1","after":null}`, clientMessage{Type: "join", BoardID: "board-1", After: -1}, ""},
		{`{"type":"join","boardId":"board-1","after":-1}`, clientMessage{}, "Invalid field: after must be a non-negative integer"},
		{`{"type":"join","boardId":"board-1","after":1.5}`, clientMessage{}, "Invalid field: after must be a non-negative integer"},
		{`{"type":"join","boardId":"board-1","after":"3"}`, clientMessage{}, "Invalid field: after must be a non-negative integer"},
		{`{"type":"join","boardId":"board-1","presence":false}`, clientMessage{Type: "join", BoardID: "board-1", After: -1, NoPresence: true}, ""},
		{`{"type":"join","boardId":"board-1","presence":true,"after":3}`, clientMessage{Type: "join", BoardID: "board-1", After: 3}, ""},
		{`{"type":"join","boardId":"board-1","presence":null}`, clientMessage{Type: "join", BoardID: "board-1", After: -1}, ""},
		{`{"type":"join","boardId":"board-1","presence":"false"}`, clientMessage{}, "Invalid field: presence must be a boolean"},
		{`{"type":"join","boardId":"board-1","presence":0}`, clientMessage{}, "Invalid field: presence must be a boolean"},
		{`{"type":"join"}`, clientMessage{}, "Missing field: boardId"},
		{`{"type":"join","boardId":7}`, clientMessage{}, "Invalid field: boardId must be a string"},
		{`{"type":"leave","boardId":"b"}`, clientMessage{Type: "leave", BoardID: "b", After: -1}, ""},
		{`{"type":"typing","boardId":"b","taskId":"t"}`, clientMessage{Type: "typing", BoardID: "b", TaskID: "t", After: -1}, ""},
		{`{"type":"stop_typing","boardId":"b","taskId":"t","extra":[1]}`, clientMessage{Type: "stop_typing", BoardID: "b", TaskID: "t", After: -1}, ""},
		{`{"type":"typing","boardId":"b"}`, clientMessage{}, "Missing field: taskId"},
		{`{"type":"dance"}`, clientMessage{}, "Unknown message type: dance"},
		{`{"boardId":"b"}`, clientMessage{}, "Missing field: type"},
		{`{"type":""}`, clientMessage{}, "Missing field: type"},
		{`{"type":3}`, clientMessage{}, "Invalid field: type must be a string"},
		{`not json`, clientMessage{}, "Invalid JSON"},
		{`{"type":"ping"`, clientMessage{}, "Invalid JSON"},
		{`[1,2]`, clientMessage{}, "Invalid JSON"},
		{`"ping"`, clientMessage{}, "Invalid JSON"},
		{`null`, clientMessage{}, "Invalid JSON"},
		{``, clientMessage{}, "Invalid JSON"},
		{`{"type":"join","boardId":"*"}`, clientMessage{Type: "join", BoardID: "*", After: -1}, ""},
		{`{"type":"join","boardId":"*","after":"b-1:12,b-2:0","presence":"b-2"}`,
			clientMessage{Type: "join", BoardID: "*", After: -1, Cursor: map[string]int64{"b-1": 12, "b-2": 0}, PresenceBoard: "b-2"}, ""},
		{`{"type":"join","boardId":"*","after":"","presence":false}`, clientMessage{Type: "join", BoardID: "*", After: -1}, ""},
		{`{"type":"join","boardId":"*","after":12}`, clientMessage{}, "Invalid field: after must be a composite cursor (board:seq pairs, comma-separated) with *"},
		{`{"type":"join","boardId":"*","after":"b-1"}`, clientMessage{}, "Invalid field: after: want board:seq pairs, comma-separated"},
		{`{"type":"join","boardId":"*","after":"b-1:-3"}`, clientMessage{}, "Invalid field: after: a seq must be a non-negative integer"},
		{`{"type":"join","boardId":"*","presence":true}`, clientMessage{}, "Invalid field: presence must be a board id (or false) with *"},
		{`{"type":"leave","boardId":"*"}`, clientMessage{Type: "leave", BoardID: "*", After: -1}, ""},
	}
	for _, tt := range tests {
		got, problem := parseClientMessage([]byte(tt.in))
		if problem != tt.problem {
			t.Errorf("parseClientMessage(%s): problem %q, want %q", tt.in, problem, tt.problem)
			continue
		}
		if problem == "" && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseClientMessage(%s) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseClientMessageLongType(t *testing.T) {
	_, problem := parseClientMessage([]byte(`{"type":"` + strings.Repeat("x", 1000) + `"}`))
	if len(problem) > 100 || !strings.HasPrefix(problem, "Unknown message type: xxx") {
		t.Errorf("problem for a 1000-character type: %q, want a short 'Unknown message type' text", problem)
	}
}

func FuzzParseClientMessage(f *testing.F) {
	for _, s := range []string{`{"type":"join","boardId":"board-1","after":12}`, `{"type":"typing","boardId":"b","taskId":"t"}`,
		`{"type":"ping"}`, `{}`, `[`, `{"type":"join","boardId":"b","after":1e30}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, problem := parseClientMessage(data)
		if problem != "" {
			return
		}
		switch m.Type {
		case "ping":
		case "join":
			if m.BoardID == "" || m.After < -1 {
				t.Fatalf("accepted join %+v from %q", m, data)
			}
		case "leave":
			if m.BoardID == "" {
				t.Fatalf("accepted leave %+v from %q", m, data)
			}
		case "typing", "stop_typing":
			if m.BoardID == "" || m.TaskID == "" {
				t.Fatalf("accepted %+v from %q", m, data)
			}
		default:
			t.Fatalf("accepted unknown type %q from %q", m.Type, data)
		}
	})
}
