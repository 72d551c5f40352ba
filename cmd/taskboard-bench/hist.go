package main

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// The histogram is HDR-style: values are recorded in microseconds into
// log-linear buckets, 2^(histSubBits-1) per power of two above
// 2^histSubBits, so every bucket is narrower than 1/128 of its lower bound
// and a quantile read from it is within 0.8% of the recorded value.
const (
	histSubBits = 8
	histHalf    = 1 << (histSubBits - 1)
	// histMaxShift bounds the recordable value: 2^(histMaxShift+histSubBits)
	// microseconds, about 19 hours. Larger values are clamped.
	histMaxShift = 28
	histBuckets  = (histMaxShift+1)*histHalf + histHalf
	histMaxValue = int64(1)<<(histMaxShift+histSubBits) - 1
)

// Histogram counts latencies. Record may be called from many goroutines at
// once; reads (Quantile, Data) see a consistent enough view when no Record
// runs concurrently, which is how the tool uses them.
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Uint64 // microseconds
	max    atomic.Int64  // microseconds
}

// bucketOf returns the bucket index of v microseconds.
func bucketOf(v int64) int {
	if v < 0 {
		v = 0
	}
	if v > histMaxValue {
		v = histMaxValue
	}
	if v < 1<<histSubBits {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - histSubBits
	return shift<<(histSubBits-1) + int(v>>shift)
}

// bucketBounds returns the lowest and highest value that fall in bucket i.
func bucketBounds(i int) (lo, hi int64) {
	if i < 1<<histSubBits {
		return int64(i), int64(i)
	}
	shift := i>>(histSubBits-1) - 1
	mant := int64(i - shift<<(histSubBits-1))
	return mant << shift, (mant+1)<<shift - 1
}

// Record adds one latency. Negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	us := d.Microseconds()
	if us < 0 {
		us = 0
	}
	h.RecordMicros(us)
}

// RecordMicros adds one value in microseconds.
func (h *Histogram) RecordMicros(us int64) {
	if us > histMaxValue {
		us = histMaxValue
	}
	h.counts[bucketOf(us)].Add(1)
	h.n.Add(1)
	h.sum.Add(uint64(max(us, 0)))
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			break
		}
	}
}

// Count returns the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n.Load() }

// Max returns the largest recorded value.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) * time.Microsecond }

// Mean returns the mean of the recorded values.
func (h *Histogram) Mean() time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load()/n) * time.Microsecond
}

// Quantile returns the value below or at which a fraction q of the recorded
// values lie: the highest value of the bucket that holds the ceil(q*n)-th
// smallest value, never above the largest recorded value. It returns 0 for
// an empty histogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	rank = min(max(rank, 1), n)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			_, hi := bucketBounds(i)
			return time.Duration(min(hi, h.max.Load())) * time.Microsecond
		}
	}
	return h.Max()
}

// Merge adds the values of o to h.
func (h *Histogram) Merge(o *Histogram) { h.MergeData(o.Data()) }

// HistData is the sparse, JSON-friendly form of a Histogram: the non-empty
// buckets as [index, count] pairs, with the sum and maximum.
type HistData struct {
	Buckets [][2]uint64 `json:"b,omitempty"`
	Sum     uint64      `json:"s,omitempty"`
	Max     int64       `json:"m,omitempty"`
}

// Data returns the sparse form of h.
func (h *Histogram) Data() HistData {
	var d HistData
	for i := range h.counts {
		if c := h.counts[i].Load(); c > 0 {
			d.Buckets = append(d.Buckets, [2]uint64{uint64(i), c})
		}
	}
	d.Sum = h.sum.Load()
	d.Max = h.max.Load()
	return d
}

// MergeData adds a sparse histogram to h. Bucket indexes out of range are
// ignored.
func (h *Histogram) MergeData(d HistData) {
	var n uint64
	for _, b := range d.Buckets {
		if b[0] >= histBuckets {
			continue
		}
		h.counts[b[0]].Add(b[1])
		n += b[1]
	}
	h.n.Add(n)
	h.sum.Add(d.Sum)
	for {
		m := h.max.Load()
		if d.Max <= m || h.max.CompareAndSwap(m, d.Max) {
			break
		}
	}
}

// Summary is a histogram's percentiles in milliseconds.
type Summary struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50Ms"`
	P90   float64 `json:"p90Ms"`
	P99   float64 `json:"p99Ms"`
	Max   float64 `json:"maxMs"`
	Mean  float64 `json:"meanMs"`
}

// Summary returns h's percentiles.
func (h *Histogram) Summary() Summary {
	return Summary{
		Count: h.Count(),
		P50:   ms(h.Quantile(0.50)),
		P90:   ms(h.Quantile(0.90)),
		P99:   ms(h.Quantile(0.99)),
		Max:   ms(h.Max()),
		Mean:  ms(h.Mean()),
	}
}

// ms returns d in milliseconds, rounded to microseconds.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Sub returns the values of d that are not in prev, an earlier state of
// the same cumulative histogram. The maximum is the highest value of the
// highest bucket that gained values, capped by d's maximum.
func (d HistData) Sub(prev HistData) HistData {
	var out HistData
	j := 0
	for _, b := range d.Buckets {
		for j < len(prev.Buckets) && prev.Buckets[j][0] < b[0] {
			j++
		}
		c := b[1]
		if j < len(prev.Buckets) && prev.Buckets[j][0] == b[0] {
			c -= min(c, prev.Buckets[j][1])
		}
		if c > 0 {
			out.Buckets = append(out.Buckets, [2]uint64{b[0], c})
			_, hi := bucketBounds(int(b[0]))
			out.Max = min(hi, d.Max)
		}
	}
	if d.Sum > prev.Sum {
		out.Sum = d.Sum - prev.Sum
	}
	return out
}

// Total returns the number of values in d.
func (d HistData) Total() uint64 {
	var n uint64
	for _, b := range d.Buckets {
		n += b[1]
	}
	return n
}
