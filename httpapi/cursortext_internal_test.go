package httpapi

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestCursorTextMatchesFormatCursor follows a cursor through random
// changes (seqs growing by one or jumping, boards followed and dropped,
// ids with characters an id: field cannot carry) and checks after each
// that the frame appendMultiFrame writes is the bytes of appendSSEFrame
// with formatCursor, as before the text was kept.
func TestCursorTextMatchesFormatCursor(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := &multiFollow{cursor: make(map[string]int64), text: newCursorText()}
	ids := []string{"b", "a", "board-10", "board-9", "x\ny", "z\r\x00", "é-board", "a:b"}
	for _, id := range ids[:4] {
		m.setSeq(id, 0)
	}
	data := []byte(`{"type":"task_moved","seq":1}`)
	for step := range 5000 {
		id := ids[rng.IntN(len(ids))]
		switch r := rng.IntN(20); {
		case r == 0:
			m.drop(id)
		case r == 1:
			m.setSeq(id, rng.Int64N(1_000_000))
		default:
			m.setSeq(id, m.cursor[id]+1)
		}
		got := appendMultiFrame(nil, m.text, m.cursor, "task_moved", data)
		want := appendSSEFrame(nil, formatCursor(m.cursor), "task_moved", data)
		if string(got) != string(want) {
			t.Fatalf("step %d: frame\n%q\nwant\n%q", step, got, want)
		}
	}
	if len(m.cursor) == 0 || !strings.Contains(string(m.text.text), ",") {
		t.Fatalf("the walk ended with cursor %v: it did not exercise several boards", m.cursor)
	}
}

// cursorBench is a 100-board cursor of board ids like the server's.
func cursorBench() (*multiFollow, []string) {
	m := &multiFollow{cursor: make(map[string]int64), text: newCursorText()}
	var ids []string
	for i := range maxStreamBoards {
		id := fmt.Sprintf("%08x-1182-4ae6-90e9-%012x", i*7919, i)
		ids = append(ids, id)
		m.setSeq(id, 1000+int64(i))
	}
	return m, ids
}

// BenchmarkMultiFrameID100 is the id: of one event frame of a 100-board
// stream, as the stream writes it now: the kept text, updated in place.
func BenchmarkMultiFrameID100(b *testing.B) {
	m, ids := cursorBench()
	data := []byte(`{"type":"task_moved","seq":1234,"boardId":"x","actorId":"user-alice","at":"2026-12-06T09:00:00.123456Z","data":{}}`)
	buf := make([]byte, 0, 64<<10)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		id := ids[i%len(ids)]
		m.setSeq(id, m.cursor[id]+1)
		buf = appendMultiFrame(buf[:0], m.text, m.cursor, "task_moved", data)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkMultiFrameID100Format is the same frame written as the stream
// wrote it before: formatCursor (sort and format every board) per frame.
func BenchmarkMultiFrameID100Format(b *testing.B) {
	m, ids := cursorBench()
	data := []byte(`{"type":"task_moved","seq":1234,"boardId":"x","actorId":"user-alice","at":"2026-12-06T09:00:00.123456Z","data":{}}`)
	buf := make([]byte, 0, 64<<10)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		id := ids[i%len(ids)]
		m.cursor[id]++
		buf = appendSSEFrame(buf[:0], formatCursor(m.cursor), "task_moved", data)
	}
	b.SetBytes(int64(len(buf)))
}
