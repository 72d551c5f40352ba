package httpapi

import (
	"sort"
	"strconv"
	"strings"
)

// cursorText is the id: value of a many-board stream's frames, the
// composite cursor as formatCursor writes it (boards in sorted order) with
// CR, LF and NUL dropped as appendSSEField drops them, kept up to date as
// seqs change. Every frame of a stream carries it, so that with 100 boards
// sorting the boards and formatting every seq again for each frame was most
// of the stream's work: now a frame copies the text, and a new seq is
// written over the old one in place when it has as many digits (else the
// text is rebuilt once).
type cursorText struct {
	// text is the cursor; boards[i]'s seq is text[at[i] : at[i]+width[i]]
	// (boards sorted).
	text   []byte
	boards []string
	at     []int32
	width  []uint8
	// stale says that text must be rebuilt from the cursor's map.
	stale bool
}

// newCursorText returns a text that is built on first use.
func newCursorText() *cursorText { return &cursorText{stale: true} }

// set records board's new seq; a board not in the text (a board newly
// followed) makes it stale.
func (c *cursorText) set(board string, seq int64) {
	if c.stale {
		return
	}
	i := sort.SearchStrings(c.boards, board)
	if i == len(c.boards) || c.boards[i] != board {
		c.stale = true
		return
	}
	var digits [20]byte
	d := strconv.AppendInt(digits[:0], seq, 10)
	if len(d) != int(c.width[i]) {
		c.stale = true
		return
	}
	copy(c.text[c.at[i]:], d)
}

// invalidate makes the text stale: a board was followed or dropped.
func (c *cursorText) invalidate() { c.stale = true }

// appendTo appends the text of cursor, the map the text follows, to buf.
func (c *cursorText) appendTo(buf []byte, cursor map[string]int64) []byte {
	if c.stale {
		c.rebuild(cursor)
	}
	return append(buf, c.text...)
}

// rebuild builds the text from cursor.
func (c *cursorText) rebuild(cursor map[string]int64) {
	boards := c.boards[:0]
	for b := range cursor {
		boards = append(boards, b)
	}
	sort.Strings(boards)
	c.boards = boards
	c.text = c.text[:0]
	c.at = c.at[:0]
	c.width = c.width[:0]
	for i, b := range boards {
		if i > 0 {
			c.text = append(c.text, ',')
		}
		if strings.ContainsAny(b, "\r\n\x00") {
			c.text = appendSSEField(c.text, b)
		} else {
			c.text = append(c.text, b...)
		}
		c.text = append(c.text, ':')
		start := len(c.text)
		c.text = strconv.AppendInt(c.text, cursor[b], 10)
		c.at = append(c.at, int32(start))
		c.width = append(c.width, uint8(len(c.text)-start))
	}
	c.stale = false
}

// appendMultiFrame appends a frame whose id is the cursor's text: the
// same bytes as appendSSEFrame(buf, formatCursor(cursor), event, data).
func appendMultiFrame(buf []byte, ct *cursorText, cursor map[string]int64, event string, data []byte) []byte {
	if len(cursor) == 0 {
		return appendSSEFrame(buf, "", event, data)
	}
	buf = append(buf, "id: "...)
	buf = ct.appendTo(buf, cursor)
	buf = append(buf, '\n')
	return appendSSEFrame(buf, "", event, data)
}
