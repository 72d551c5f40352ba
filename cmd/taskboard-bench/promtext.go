package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Metrics is one scrape of a server's /metrics: each sample by its name
// with labels, as written ("taskboard_connections{transport=\"sse\"}").
type Metrics map[string]float64

// parseMetrics reads the Prometheus text format, skipping comments and
// lines it cannot read.
func parseMetrics(r io.Reader) (Metrics, error) {
	m := make(Metrics)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		// The name ends at the closing brace of the labels, else at the
		// first space.
		end := strings.IndexByte(line, ' ')
		if i := strings.IndexByte(line, '{'); i >= 0 && (end < 0 || i < end) {
			j := strings.LastIndexByte(line, '}')
			if j < 0 {
				continue
			}
			end = j + 1
		}
		if end <= 0 || end >= len(line) {
			continue
		}
		fields := strings.Fields(line[end:])
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		m[line[:end]] = v
	}
	return m, sc.Err()
}

// Get returns a sample's value, 0 when absent.
func (m Metrics) Get(name string) float64 { return m[name] }

// Sum returns the sum of all samples of a metric family, whatever their
// labels.
func (m Metrics) Sum(family string) float64 {
	var s float64
	for k, v := range m {
		if k == family || strings.HasPrefix(k, family+"{") {
			s += v
		}
	}
	return s
}

// scrape fetches base's /metrics with the admin token.
func scrape(ctx context.Context, client *http.Client, base, adminToken string) (Metrics, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/metrics: %s", base, resp.Status)
	}
	return parseMetrics(resp.Body)
}

// ServerSample is what the tool reads from one or more servers' /metrics
// at one moment (summed over the servers).
type ServerSample struct {
	At         time.Time `json:"at"`
	Elapsed    float64   `json:"elapsedSeconds"`
	RSS        float64   `json:"rssBytes"`
	HeapInuse  float64   `json:"heapInuseBytes"`
	StackInuse float64   `json:"stackInuseBytes"`
	Goroutines float64   `json:"goroutines"`
	GCCycles   float64   `json:"gcCycles"`
	// CPUSeconds is the process's user and system CPU time so far.
	CPUSeconds  float64 `json:"cpuSeconds"`
	Connections float64 `json:"connections"`
	Deliveries  float64 `json:"deliveries"`
	SlowDrops   float64 `json:"slowConsumerDrops"`
	// AfterGC is set when the sample follows a garbage collection that
	// began after the tool started waiting for one.
	AfterGC bool `json:"afterGC,omitempty"`
}

// sampleOf extracts the figures the tool reports from a scrape.
func sampleOf(m Metrics) ServerSample {
	return ServerSample{
		RSS:         m.Get("process_resident_memory_bytes"),
		HeapInuse:   m.Get("go_memstats_heap_inuse_bytes"),
		StackInuse:  m.Get("go_memstats_stack_inuse_bytes"),
		Goroutines:  m.Get("go_goroutines"),
		GCCycles:    m.Get("go_gc_duration_seconds_count"),
		CPUSeconds:  m.Get("process_cpu_seconds_total"),
		Connections: m.Sum("taskboard_connections"),
		Deliveries:  m.Sum("taskboard_deliveries_total"),
		SlowDrops:   m.Sum("taskboard_slow_consumer_drops_total"),
	}
}

// add sums two samples (two servers).
func (s ServerSample) add(o ServerSample) ServerSample {
	s.RSS += o.RSS
	s.HeapInuse += o.HeapInuse
	s.StackInuse += o.StackInuse
	s.Goroutines += o.Goroutines
	s.GCCycles += o.GCCycles
	s.CPUSeconds += o.CPUSeconds
	s.Connections += o.Connections
	s.Deliveries += o.Deliveries
	s.SlowDrops += o.SlowDrops
	return s
}
