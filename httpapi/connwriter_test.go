package httpapi

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// frames returns n numbered frames of size bytes each.
func frames(n, size int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		f := bytes.Repeat([]byte{'.'}, size)
		copy(f, strconv.Itoa(i)+":")
		f[size-1] = '\n'
		out[i] = f
	}
	return out
}

// TestConnWriterBacklog writes far more than the socket buffers to a client
// that does not read: Write never blocks, and once the client reads it
// gets every byte, in order.
func TestConnWriterBacklog(t *testing.T) {
	server, client := tcpPair(t)
	failed := make(chan error, 1)
	w := newConnWriter(server, 5*time.Second, 0, func(err error) { failed <- err })
	if w.raw == nil {
		t.Fatal("a TCP connection should be written directly")
	}
	var want bytes.Buffer
	for _, f := range frames(4000, 1000) { // 4 MB, well over the socket buffers
		if err := w.Write(f, 1); err != nil {
			t.Fatalf("Write: %v", err)
		}
		want.Write(f)
	}
	if w.Drained() {
		t.Fatal("drained although the client reads nothing")
	}
	got := make([]byte, want.Len())
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatal("the client got the bytes out of order or altered")
	}
	if err := w.Wait(nil); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if !w.Drained() {
		t.Fatal("not drained after the client read everything")
	}
	select {
	case err := <-failed:
		t.Fatalf("onFail(%v) on a healthy connection", err)
	default:
	}
}

// TestConnWriterSlowClient drops what waits for a client that falls more
// than maxEvents events behind, reports it once, and still delivers whole
// frames and then the final bytes.
func TestConnWriterSlowClient(t *testing.T) {
	server, client := tcpPair(t)
	failed := make(chan error, 2)
	w := newConnWriter(server, 5*time.Second, 8, func(err error) { failed <- err })
	var err error
	n := 0
	for _, f := range frames(100000, 100) {
		if err = w.Write(f, 1); err != nil {
			break
		}
		n++
	}
	if !errors.Is(err, errWriteBacklog) {
		t.Fatalf("after %d frames to a client that reads nothing: %v, want errWriteBacklog", n, err)
	}
	if got := <-failed; !errors.Is(got, errWriteBacklog) {
		t.Fatalf("onFail(%v), want errWriteBacklog", got)
	}
	if err := w.Write([]byte("more\n"), 1); !errors.Is(err, errWriteBacklog) {
		t.Fatalf("Write after the failure: %v, want errWriteBacklog", err)
	}
	if err := w.WriteFinal([]byte("bye\n")); err != nil {
		t.Fatalf("WriteFinal: %v", err)
	}
	all, err := readUntil(client, "bye\n")
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	lines := bytes.Split(bytes.TrimSuffix(all, []byte("\n")), []byte("\n"))
	for i, l := range lines[:len(lines)-1] {
		if !bytes.HasPrefix(l, []byte(strconv.Itoa(i)+":")) || len(l) != 99 {
			t.Fatalf("line %d is %q: frames were cut or reordered", i, l)
		}
	}
	if string(lines[len(lines)-1]) != "bye" {
		t.Fatalf("last line %q, want bye", lines[len(lines)-1])
	}
	select {
	case err := <-failed:
		t.Fatalf("onFail called twice, again with %v", err)
	default:
	}
}

// readUntil reads from c until the data ends with suffix.
func readUntil(c net.Conn, suffix string) ([]byte, error) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var all []byte
	buf := make([]byte, 64<<10)
	for !bytes.HasSuffix(all, []byte(suffix)) {
		n, err := c.Read(buf)
		all = append(all, buf[:n]...)
		if err != nil {
			return all, err
		}
	}
	return all, nil
}

// TestConnWriterClientGone fails the writer once the client is gone.
func TestConnWriterClientGone(t *testing.T) {
	server, client := tcpPair(t)
	failed := make(chan error, 1)
	w := newConnWriter(server, 5*time.Second, 0, func(err error) { failed <- err })
	client.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := w.Write([]byte("hello\n"), 1); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("writes to a closed client kept succeeding")
		}
		time.Sleep(time.Millisecond) // pacing the writes, not synchronising
	}
	select {
	case err := <-failed:
		if errors.Is(err, errWriteBacklog) {
			t.Fatalf("onFail(%v), want the write error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("onFail was not called")
	}
}
