package main

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsAreContiguous(t *testing.T) {
	prevHi := int64(-1)
	for i := range histBuckets {
		lo, hi := bucketBounds(i)
		if lo != prevHi+1 {
			t.Fatalf("bucketBounds(%d) = [%d, %d], want it to start at %d", i, lo, hi, prevHi+1)
		}
		if got := bucketOf(lo); got != i {
			t.Fatalf("bucketOf(%d) = %d, want %d", lo, got, i)
		}
		if got := bucketOf(hi); got != i {
			t.Fatalf("bucketOf(%d) = %d, want %d", hi, got, i)
		}
		if lo >= 256 && float64(hi-lo+1)/float64(lo) > 1.0/128 {
			t.Fatalf("bucket %d = [%d, %d] is wider than 1/128 of its lower bound", i, lo, hi)
		}
		prevHi = hi
	}
	if prevHi != histMaxValue {
		t.Fatalf("last bucket ends at %d, want %d", prevHi, histMaxValue)
	}
}

func TestQuantiles(t *testing.T) {
	tests := []struct {
		name   string
		values []int64 // microseconds
	}{
		{"one value", []int64{4200}},
		{"small exact", []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"uniform 1..100000", seq(1, 100000)},
		{"random lognormal", lognormal(50000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Histogram
			for _, v := range tt.values {
				h.Record(time.Duration(v) * time.Microsecond)
			}
			sorted := slices.Clone(tt.values)
			slices.Sort(sorted)
			for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
				rank := int(math.Ceil(q*float64(len(sorted)))) - 1
				want := sorted[max(rank, 0)]
				got := h.Quantile(q).Microseconds()
				// The bucket's highest value: never below the exact
				// value, at most 1/128 above it.
				if got < want || float64(got-want) > float64(want)/128+1 {
					t.Errorf("Quantile(%v) = %dµs, want %dµs within 0.8%%", q, got, want)
				}
			}
			if got, want := h.Max().Microseconds(), sorted[len(sorted)-1]; got != want {
				t.Errorf("Max() = %dµs, want %dµs", got, want)
			}
			if got := h.Count(); got != uint64(len(sorted)) {
				t.Errorf("Count() = %d, want %d", got, len(sorted))
			}
		})
	}
}

func TestEmptyAndClamped(t *testing.T) {
	var h Histogram
	if got := h.Quantile(0.99); got != 0 {
		t.Errorf("empty Quantile(0.99) = %v, want 0", got)
	}
	h.Record(-time.Second)
	if got := h.Quantile(1); got != 0 {
		t.Errorf("after Record(-1s): Quantile(1) = %v, want 0", got)
	}
	h.Record(1000 * time.Hour)
	if got := h.Max().Microseconds(); got != histMaxValue {
		t.Errorf("after Record(1000h): Max() = %dµs, want clamped to %d", got, histMaxValue)
	}
}

func TestMergeThroughJSON(t *testing.T) {
	var a, b, whole Histogram
	for i, v := range lognormal(20000) {
		d := time.Duration(v) * time.Microsecond
		whole.Record(d)
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	raw, err := json.Marshal(b.Data())
	if err != nil {
		t.Fatal(err)
	}
	var data HistData
	if err := json.Unmarshal(raw, &data); err != nil {
		t.Fatal(err)
	}
	a.MergeData(data)
	if a.Summary() != whole.Summary() {
		t.Errorf("merged Summary() = %+v, want %+v", a.Summary(), whole.Summary())
	}
}

func seq(from, to int64) []int64 {
	var s []int64
	for v := from; v <= to; v++ {
		s = append(s, v)
	}
	return s
}

func lognormal(n int) []int64 {
	r := rand.New(rand.NewPCG(1, 2))
	s := make([]int64, n)
	for i := range s {
		s[i] = int64(math.Exp(8 + 1.5*r.NormFloat64()))
	}
	return s
}

func TestHistDataSub(t *testing.T) {
	var h Histogram
	for _, v := range []int64{5, 300, 300, 9000} {
		h.RecordMicros(v)
	}
	prev := h.Data()
	for _, v := range []int64{300, 20000, 7} {
		h.RecordMicros(v)
	}
	d := h.Data().Sub(prev)
	var got Histogram
	got.MergeData(d)
	if got.Count() != 3 || d.Total() != 3 {
		t.Fatalf("Sub: %d values (Total %d), want 3", got.Count(), d.Total())
	}
	if q := got.Quantile(0.34).Microseconds(); q < 300 || q > 303 {
		t.Errorf("Sub: median-ish %dµs, want about 300", q)
	}
	if m := got.Max().Microseconds(); m < 20000 || m > 20000*129/128 {
		t.Errorf("Sub: max %dµs, want 20000 within a bucket", m)
	}
	if empty := h.Data().Sub(h.Data()); len(empty.Buckets) != 0 || empty.Total() != 0 {
		t.Errorf("Sub of itself = %+v, want empty", empty)
	}
}
