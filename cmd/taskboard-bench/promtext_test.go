package main

import (
	"strings"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	text := `# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 1234
process_resident_memory_bytes 5.4525952e+07
go_memstats_heap_inuse_bytes 1.2e+07
go_gc_duration_seconds{quantile="0.5"} 0.0001
go_gc_duration_seconds_count 17
taskboard_connections{transport="sse"} 10
taskboard_connections{transport="websocket"} 5
taskboard_deliveries_total{transport="sse"} 100
weird{label="a b"} 3
broken line
`
	m, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{
		"go_goroutines": 1234, "process_resident_memory_bytes": 54525952, "go_gc_duration_seconds_count": 17,
		`taskboard_connections{transport="sse"}`: 10, `weird{label="a b"}`: 3,
	} {
		if got := m.Get(name); got != want {
			t.Errorf("Get(%s) = %v, want %v", name, got, want)
		}
	}
	if got := m.Sum("taskboard_connections"); got != 15 {
		t.Errorf(`Sum("taskboard_connections") = %v, want 15`, got)
	}
	s := sampleOf(m)
	if s.Goroutines != 1234 || s.GCCycles != 17 || s.Connections != 15 || s.HeapInuse != 1.2e7 {
		t.Errorf("sampleOf = %+v", s)
	}
}

func TestParseSources(t *testing.T) {
	ips, err := parseSources("127.0.0.2-4, 127.0.1.1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ip := range ips {
		got = append(got, ip.String())
	}
	if want := "127.0.0.2 127.0.0.3 127.0.0.4 127.0.1.1"; strings.Join(got, " ") != want {
		t.Errorf("parseSources = %v, want %s", got, want)
	}
	for _, bad := range []string{"10.0.0.1", "127.0.0.9-3", "x"} {
		if _, err := parseSources(bad); err == nil {
			t.Errorf("parseSources(%q) succeeded, want an error", bad)
		}
	}
}
