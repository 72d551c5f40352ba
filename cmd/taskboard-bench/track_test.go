package main

import (
	"testing"
	"time"
)

func TestTrackerAccounting(t *testing.T) {
	tests := []struct {
		name  string
		start int64
		seqs  []int64
		final int64
		want  Accounting
		last  int64
	}{
		{"contiguous", 10, []int64{11, 12, 13}, 13, Accounting{Received: 3}, 13},
		{"nothing yet", 10, nil, 10, Accounting{}, 10},
		{"tail missing", 10, []int64{11, 12}, 15, Accounting{Received: 2, Lost: 3, Behind: 1}, 12},
		{"gap", 0, []int64{1, 2, 5, 6}, 6, Accounting{Received: 4, Lost: 2}, 6},
		{"duplicate", 0, []int64{1, 2, 2, 3}, 3, Accounting{Received: 3, Duplicated: 1}, 3},
		{"before start", 5, []int64{5, 6, 4, 7}, 7, Accounting{Received: 2, Duplicated: 2}, 7},
		{"out of order", 0, []int64{1, 3, 2, 4}, 4, Accounting{Received: 4, OutOfOrder: 1}, 4},
		{"late then duplicated", 0, []int64{1, 3, 2, 2}, 3, Accounting{Received: 3, OutOfOrder: 1, Duplicated: 1}, 3},
		{"gap past final not lost", 0, []int64{1, 2, 6}, 3, Accounting{Received: 3, Lost: 1}, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker(tt.start)
			for _, s := range tt.seqs {
				tr.Observe(s)
			}
			if got := tr.Account(tt.final); got != tt.want {
				t.Errorf("after %v from %d: Account(%d) = %+v, want %+v", tt.seqs, tt.start, tt.final, got, tt.want)
			}
			if got := tr.Last(); got != tt.last {
				t.Errorf("Last() = %d, want %d", got, tt.last)
			}
		})
	}
}

func TestObserveReportsFresh(t *testing.T) {
	tr := NewTracker(0)
	for _, c := range []struct {
		seq  int64
		want bool
	}{{1, true}, {1, false}, {3, true}, {2, true}, {2, false}, {0, false}} {
		if got := tr.Observe(c.seq); got != c.want {
			t.Errorf("Observe(%d) = %v, want %v", c.seq, got, c.want)
		}
	}
}

func TestEventStamp(t *testing.T) {
	at := time.Date(2026, 11, 27, 14, 0, 0, 123456000, time.UTC)
	tests := []struct {
		name    string
		data    string
		wantSeq int64
		wantAt  time.Time
		ok      bool
	}{
		{"envelope", `{"type":"task_moved","seq":12,"boardId":"board-1","actorId":"user-alice","at":"2026-11-27T14:00:00.123456Z","mutationId":null,"task":{"id":"task-1","created_at":"2020-01-01T00:00:00Z"}}`, 12, at, true},
		{"whole seconds", `{"type":"task_moved","seq":3,"boardId":"b","actorId":"u","at":"2026-11-27T14:00:00Z"}`, 3, at.Truncate(time.Second), true},
		{"title mimics keys", `{"type":"task_created","seq":7,"boardId":"b","actorId":"u","at":"2026-11-27T14:00:00.123456Z","task":{"title":"\"seq\":99,\"at\":\"1999-01-01T00:00:00Z\""}}`, 7, at, true},
		{"other key order", `{"seq":5,"at":"2026-11-27T15:00:00.123456+01:00","type":"x"}`, 5, at, true},
		{"no seq", `{"type":"user_joined","boardId":"b","user":{"id":"u"}}`, 0, time.Time{}, false},
		{"not json", `nope`, 0, time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seq, got, ok := eventStamp([]byte(tt.data))
			if seq != tt.wantSeq || ok != tt.ok || !got.Equal(tt.wantAt) {
				t.Errorf("eventStamp(%s) = %d, %v, %v; want %d, %v, %v", tt.data, seq, got, ok, tt.wantSeq, tt.wantAt, tt.ok)
			}
		})
	}
}

func TestParseRFC3339MatchesTimeParse(t *testing.T) {
	for _, s := range []string{
		"2026-11-27T14:00:00Z", "2026-11-27T14:00:00.1Z", "2026-11-27T14:00:00.000001Z",
		"2026-11-27T14:00:00.123456789Z", "2000-02-29T23:59:59.5Z", "2026-11-27T14:00:00+02:00",
	} {
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := parseRFC3339([]byte(s))
		if !ok || !got.Equal(want) {
			t.Errorf("parseRFC3339(%q) = %v, %v; want %v", s, got, ok, want)
		}
	}
	if _, ok := parseRFC3339([]byte("2026-13-45")); ok {
		t.Errorf("parseRFC3339 accepted a bad time")
	}
}

func TestMessageType(t *testing.T) {
	for in, want := range map[string]string{
		`{"type":"joined","boardId":"b","seq":4}`: "joined",
		`{"boardId":"b","type":"reset"}`:          "reset",
		`[]`:                                      "",
	} {
		if got := string(messageType([]byte(in))); got != want {
			t.Errorf("messageType(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestSSEEventDoesNotAllocate(t *testing.T) {
	s := newSubscriber(subSpec{Transport: transSSE}, newTransportStats(), nil)
	event := []byte("task_moved")
	data := []byte(`{"type":"task_moved","seq":1,"boardId":"board-1","actorId":"user-alice","at":"2026-11-27T14:00:00.123456Z","mutationId":null,"task":{"id":"task-1"}}`)
	id := int64(0)
	allocs := testing.AllocsPerRun(1000, func() {
		id++
		s.dispatchSSE(id, event, data)
	})
	if allocs != 0 {
		t.Errorf("dispatchSSE allocates %v times per event, want 0", allocs)
	}
	if got := s.tr.Account(id); got.Lost != 0 || got.Duplicated != 0 {
		t.Errorf("after %d events: %+v", id, got)
	}
}
