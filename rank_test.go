package taskboard

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
)

func checkBetween(t *testing.T, a, b, k string) {
	t.Helper()
	if !validRank(k) {
		t.Fatalf("rankBetween(%q, %q) = %q: not a valid key", a, b, k)
	}
	if (a != "" && k <= a) || (b != "" && k >= b) {
		t.Fatalf("rankBetween(%q, %q) = %q: not between", a, b, k)
	}
}

func TestRankBetweenEdges(t *testing.T) {
	cases := [][2]string{
		{"", ""}, {"a0", ""}, {"", "a0"}, {"a0", "a1"}, {"a0", "a0V"}, {"a0V", "a1"},
		{"az", ""}, {"Zz", "a0"}, {"", "Zz"}, {"a0", "a01"}, {"a001", "a002"}, {"a0z", "a1"},
		{"zzzzzzzzzzzzzzzzzzzzzzzzzzz", ""}, {"", "A00000000000000000000000001"},
		{"", "A000000000000000000000000001"}, {"a0zzzzzzzz", "a1"}, {"b00", "b001"},
	}
	for _, c := range cases {
		k, err := rankBetween(c[0], c[1])
		if err != nil {
			t.Fatalf("rankBetween(%q, %q): %v", c[0], c[1], err)
		}
		checkBetween(t, c[0], c[1], k)
	}
	if _, err := rankBetween("a1", "a0"); err == nil {
		t.Error("rankBetween of keys out of order: no error")
	}
}

func TestRankAppendsStayShort(t *testing.T) {
	k := ""
	for i := range 200000 {
		n, err := rankBetween(k, "")
		if err != nil {
			t.Fatal(err)
		}
		checkBetween(t, k, "", n)
		k = n
		if i == 100000 && len(k) > 4 {
			t.Fatalf("after %d appends the key is %q", i, k)
		}
	}
	k = "a0"
	for range 100000 {
		n, err := rankBetween("", k)
		if err != nil {
			t.Fatal(err)
		}
		checkBetween(t, "", k, n)
		k = n
	}
	if len(k) > 4 {
		t.Fatalf("after 100000 prepends the key is %q", k)
	}
}

// TestRankInsertsAtOneSpot inserts again and again right after one key:
// the keys stay ordered and grow about one digit per five inserts.
func TestRankInsertsAtOneSpot(t *testing.T) {
	lo, hi := "a0", "a1"
	for i := range 300 {
		k, err := rankBetween(lo, hi)
		if err != nil {
			t.Fatal(err)
		}
		checkBetween(t, lo, hi, k)
		hi = k
		if len(k) > 3+i/4 {
			t.Fatalf("insert %d: key %q too long", i, k)
		}
	}
}

func TestRanksBetween(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	bounds := [][2]string{{"", ""}, {"a0", ""}, {"", "a0"}, {"a0", "a1"}, {"a0V", "a0W"}, {"a0" + strings.Repeat("z", 30), "a1"}}
	for _, bd := range bounds {
		for _, n := range []int{1, 2, 3, 64, 1000} {
			ks, err := ranksBetween(bd[0], bd[1], n)
			if err != nil {
				t.Fatal(err)
			}
			if len(ks) != n {
				t.Fatalf("ranksBetween(%q, %q, %d): %d keys", bd[0], bd[1], n, len(ks))
			}
			prev := bd[0]
			for _, k := range ks {
				if prev != "" && k <= prev {
					t.Fatalf("ranksBetween(%q, %q, %d): %q after %q", bd[0], bd[1], n, k, prev)
				}
				if !validRank(k) {
					t.Fatalf("invalid key %q", k)
				}
				prev = k
			}
			if bd[1] != "" && prev >= bd[1] {
				t.Fatalf("ranksBetween(%q, %q, %d): last %q not below", bd[0], bd[1], n, prev)
			}
		}
	}
	// Random inserts into a growing ordered set keep it ordered.
	keys := []string{}
	for range 5000 {
		i := rng.Intn(len(keys) + 1)
		a, b := "", ""
		if i > 0 {
			a = keys[i-1]
		}
		if i < len(keys) {
			b = keys[i]
		}
		k, err := rankBetween(a, b)
		if err != nil {
			t.Fatal(err)
		}
		checkBetween(t, a, b, k)
		keys = slices.Insert(keys, i, k)
	}
	if !slices.IsSorted(keys) {
		t.Fatal("keys out of order")
	}
}

// TestOrderBlocks checks the blocked order index against a plain slice
// through random inserts, removals and replacements.
func TestOrderBlocks(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	var model []string
	for i := range 3000 {
		model = append(model, fmt.Sprintf("k%06d", i*10))
	}
	o := newOrder(slices.Clone(model))
	for step := range 20000 {
		switch op := rng.Intn(5); {
		case op < 2 || len(model) == 0:
			i := rng.Intn(len(model) + 1)
			lo, hi := "k", "l"
			if i > 0 {
				lo = model[i-1]
			}
			if i < len(model) {
				hi = model[i]
			}
			k := lo + "V"
			if k >= hi {
				continue
			}
			model = slices.Insert(model, i, k)
			o.insert(i, k)
		case op < 4:
			i := rng.Intn(len(model))
			model = slices.Delete(model, i, i+1)
			o.remove(i)
		default:
			i := rng.Intn(len(model))
			k := model[i] + "1"
			if i+1 < len(model) && k >= model[i+1] {
				continue
			}
			model[i] = k
			o.set(i, k)
		}
		if o.len() != len(model) {
			t.Fatalf("step %d: %d keys, want %d", step, o.len(), len(model))
		}
		if len(model) > 0 {
			i := rng.Intn(len(model))
			if got := o.at(i); got != model[i] {
				t.Fatalf("step %d: at(%d) = %q, want %q", step, i, got, model[i])
			}
			if got, err := o.index(model[i]); err != nil || got != i {
				t.Fatalf("step %d: index(%q) = %d, %v; want %d", step, model[i], got, err, i)
			}
		}
	}
	for i, k := range model {
		if o.at(i) != k {
			t.Fatalf("at(%d) = %q, want %q", i, o.at(i), k)
		}
	}
	if _, err := o.index("nope"); err == nil {
		t.Fatal("index of a missing key: no error")
	}
}

// TestOrderBlocksSplit inserts at the top until blocks split, then
// removes everything from the middle.
func TestOrderBlocksSplit(t *testing.T) {
	o := newOrder(nil)
	var model []string
	for i := range 5000 {
		k := fmt.Sprintf("%08d", 99999999-i)
		o.insert(0, k)
		model = slices.Insert(model, 0, k)
	}
	if len(o.blocks) < 5 {
		t.Fatalf("%d blocks after 5000 inserts at one spot", len(o.blocks))
	}
	for len(model) > 0 {
		for _, i := range []int{0, len(model) / 2, len(model) - 1} {
			if got, err := o.index(model[i]); err != nil || got != i || o.at(i) != model[i] {
				t.Fatalf("index(%q) = %d, %v; at(%d) = %q", model[i], got, err, i, o.at(i))
			}
		}
		i := len(model) / 2
		model = slices.Delete(model, i, i+1)
		o.remove(i)
	}
	if o.len() != 0 || len(o.blocks) != 0 {
		t.Fatalf("emptied order: %d keys, %d blocks", o.len(), len(o.blocks))
	}
}
