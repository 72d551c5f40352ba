package httpapi

import (
	"bytes"
	"net"
	"net/http"
	"strconv"
	"time"
)

// multiConn is a many-board stream's connection taken over from net/http:
// a chunked body that the stream's goroutine writes one chunk, and one
// write, per flush, and a reader that notices the client leaving. Through
// net/http's ResponseWriter a flush of more than its 4 KiB buffer (a single
// frame of a 100-board stream, whose id alone is about 4 KB) took two or
// three writes.
type multiConn struct {
	conn net.Conn
	// head is the response head, written with the first chunk.
	head []byte
	// size is the chunk's size line.
	size [20]byte
	// vectored says that the connection writes several buffers with one
	// writev (TCP); on others (TLS) a chunk is made contiguous first.
	vectored bool
	done     chan struct{} // closed when the reader has returned
}

// multiEndTimeout bounds how long the end of the body may wait for a
// client that does not read.
const multiEndTimeout = time.Second

// takeOverMulti takes the connection of an HTTP/1.1 request over, with
// the response head hd, and starts its reader, which calls gone when the
// client closes the connection. It returns nil where the connection cannot
// be taken over (HTTP/2, a ResponseWriter without Hijack): the stream then
// writes through the ResponseWriter.
func takeOverMulti(r *http.Request, rc *http.ResponseController, hd http.Header, gone func()) *multiConn {
	if !r.ProtoAtLeast(1, 1) || r.ProtoMajor != 1 {
		return nil
	}
	conn, _, err := rc.Hijack()
	if err != nil {
		return nil
	}
	// The server's deadlines were for the request.
	_ = conn.SetDeadline(time.Time{})
	_, vectored := conn.(*net.TCPConn)
	c := &multiConn{conn: conn, done: make(chan struct{}), vectored: vectored}
	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	hd.Set("Transfer-Encoding", "chunked")
	hd.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	_ = hd.Write(&head)
	head.WriteString("\r\n")
	c.head = head.Bytes()
	go c.read(gone)
	return c
}

// read waits for the client to close the connection; an SSE client sends
// nothing after its request.
func (c *multiConn) read(gone func()) {
	defer close(c.done)
	buf := make([]byte, 64)
	for {
		if _, err := c.conn.Read(buf); err != nil {
			gone()
			return
		}
	}
}

// write writes data as one chunk (one writev, data not copied), waiting at
// most sseWriteTimeout for the client to take it.
func (c *multiConn) write(data []byte) error {
	size := strconv.AppendInt(c.size[:0], int64(len(data)), 16)
	size = append(size, '\r', '\n')
	err := c.conn.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
	if err != nil {
		return err
	}
	if c.vectored {
		bufs := net.Buffers{c.head, size, data, crlf}
		_, err = bufs.WriteTo(c.conn)
	} else {
		chunk := make([]byte, 0, len(c.head)+len(size)+len(data)+len(crlf))
		chunk = append(append(append(append(chunk, c.head...), size...), data...), crlf...)
		_, err = c.conn.Write(chunk)
	}
	c.head = nil
	return err
}

// crlf ends a chunk.
var crlf = []byte("\r\n")

// close ends the body, if the client takes it within multiEndTimeout,
// closes the connection and waits for the reader to return.
func (c *multiConn) close() {
	if err := c.conn.SetWriteDeadline(time.Now().Add(multiEndTimeout)); err == nil {
		bufs := net.Buffers{c.head, []byte(sseEndChunk)}
		_, _ = bufs.WriteTo(c.conn)
	}
	_ = c.conn.Close()
	<-c.done
}
