package taskboard

import (
	"errors"
	"strings"
)

// Order keys (ranks) store the order of the tasks of a list and of the lists
// of a board: siblings sort by their key, compared byte by byte, and a row
// inserted or moved between two neighbours gets a key between theirs, so a
// write touches only the row that moves.
//
// A key is an integer part followed by an optional fraction, both written
// with the 62 digits 0-9A-Za-z (ASCII order is digit order). The integer
// part's first character tells its length: 'a'..'z' start a non-negative
// integer of 1..26 digits, 'A'..'Z' a negative one of 26..1 digits, so a
// longer integer sorts after (or, negative, before) every shorter one. The
// fraction never ends in '0', which keeps one key per value. Appending at
// either end increments or decrements the integer part, so keys grow by a
// digit only every 62^k appends; inserts between two neighbours extend the
// fraction, about one digit per six inserts at one spot, until the server
// respaces the keys around that spot (see rebalance).

const rankDigits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// errRankSpace reports that no key is left on one side: the integer part
// cannot grow further.
var errRankSpace = errors.New("order keys exhausted")

func digitValue(c byte) int { return strings.IndexByte(rankDigits, c) }

// intLen returns the length of the integer part of a key whose first byte
// is head, or 0 for an invalid head.
func intLen(head byte) int {
	switch {
	case head >= 'a' && head <= 'z':
		return int(head-'a') + 2
	case head >= 'A' && head <= 'Z':
		return int('Z'-head) + 2
	}
	return 0
}

// splitRank returns a key's integer part and fraction.
func splitRank(k string) (string, string) {
	n := intLen(k[0])
	if n == 0 || n > len(k) {
		// Not a key this package made: treat it as all integer.
		return k, ""
	}
	return k[:n], k[n:]
}

// validRank reports whether k is a well-formed key.
func validRank(k string) bool {
	if k == "" {
		return false
	}
	n := intLen(k[0])
	if n == 0 || n > len(k) {
		return false
	}
	for i := 1; i < len(k); i++ {
		if digitValue(k[i]) < 0 {
			return false
		}
	}
	if k == smallestInt {
		return false // nothing could be put before it
	}
	return !strings.HasSuffix(k[n:], "0")
}

// smallestInt is the lowest integer part; keys before it cannot be made.
var smallestInt = "A" + strings.Repeat("0", 26)

// incInt returns the integer part after x, or "" when x is the largest.
func incInt(x string) string {
	head, digits := x[0], []byte(x[1:])
	for i := len(digits) - 1; i >= 0; i-- {
		d := digitValue(digits[i])
		if d < len(rankDigits)-1 {
			digits[i] = rankDigits[d+1]
			return string(head) + string(digits)
		}
		digits[i] = '0'
	}
	// Carried out of every digit: the next length.
	switch head {
	case 'Z':
		return "a0"
	case 'z':
		return ""
	}
	head++
	if head > 'a' {
		digits = append(digits, '0')
	} else {
		digits = digits[1:]
	}
	return string(head) + string(digits)
}

// decInt returns the integer part before x, or "" when x is the smallest.
func decInt(x string) string {
	head, digits := x[0], []byte(x[1:])
	for i := len(digits) - 1; i >= 0; i-- {
		d := digitValue(digits[i])
		if d > 0 {
			digits[i] = rankDigits[d-1]
			return string(head) + string(digits)
		}
		digits[i] = 'z'
	}
	switch head {
	case 'a':
		return "Zz"
	case 'A':
		return ""
	}
	head--
	if head < 'Z' {
		digits = append(digits, 'z')
	} else {
		digits = digits[1:]
	}
	return string(head) + string(digits)
}

// midFraction returns a fraction strictly between a and b, read as 0.a and
// 0.b in base 62; an empty b stands for 1. a < b, and neither ends in '0'.
func midFraction(a, b string) string {
	if b != "" {
		// The common prefix, a padded with zeros.
		n := 0
		for n < len(b) {
			ca := byte('0')
			if n < len(a) {
				ca = a[n]
			}
			if ca != b[n] {
				break
			}
			n++
		}
		if n > 0 {
			rest := ""
			if n < len(a) {
				rest = a[n:]
			}
			return b[:n] + midFraction(rest, b[n:])
		}
	}
	da, db := 0, len(rankDigits)
	if a != "" {
		da = digitValue(a[0])
	}
	if b != "" {
		db = digitValue(b[0])
	}
	if db-da > 1 {
		return string(rankDigits[(da+db+1)/2])
	}
	// Consecutive first digits.
	if len(b) > 1 {
		return b[:1] // b without its tail: above a, below b
	}
	rest := ""
	if len(a) > 1 {
		rest = a[1:]
	}
	return string(rankDigits[da]) + midFraction(rest, "")
}

// rankBetween returns a key strictly between a and b; an empty a means
// before b (the first), an empty b after a (the last), both empty the key
// of a first row. a must sort before b.
func rankBetween(a, b string) (string, error) {
	switch {
	case a == "" && b == "":
		return "a0", nil
	case a == "":
		ib, fb := splitRank(b)
		if ib == smallestInt {
			return ib + midFraction("", fb), nil
		}
		if fb != "" {
			return ib, nil
		}
		if d := decInt(ib); d == smallestInt {
			return d + midFraction("", ""), nil
		} else if d != "" {
			return d, nil
		}
		return "", errRankSpace
	case b == "":
		ia, fa := splitRank(a)
		if i := incInt(ia); i != "" {
			return i, nil
		}
		return ia + midFraction(fa, ""), nil
	}
	if a >= b {
		return "", errors.New("order keys out of order")
	}
	ia, fa := splitRank(a)
	ib, fb := splitRank(b)
	if ia == ib {
		return ia + midFraction(fa, fb), nil
	}
	i := incInt(ia)
	if i != "" && i < b {
		return i, nil
	}
	return ia + midFraction(fa, ""), nil
}

// ranksBetween returns n keys in order strictly between a and b (empty
// meaning open ends, as for rankBetween), spread so that none is longer
// than it must be.
func ranksBetween(a, b string, n int) ([]string, error) {
	if n <= 0 {
		return nil, nil
	}
	if n == 1 {
		k, err := rankBetween(a, b)
		return []string{k}, err
	}
	out := make([]string, 0, n)
	switch {
	case b == "":
		c := a
		for range n {
			k, err := rankBetween(c, "")
			if err != nil {
				return nil, err
			}
			out = append(out, k)
			c = k
		}
		return out, nil
	case a == "":
		c := b
		for range n {
			k, err := rankBetween("", c)
			if err != nil {
				return nil, err
			}
			out = append(out, k)
			c = k
		}
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
		return out, nil
	}
	mid := n / 2
	c, err := rankBetween(a, b)
	if err != nil {
		return nil, err
	}
	left, err := ranksBetween(a, c, mid)
	if err != nil {
		return nil, err
	}
	right, err := ranksBetween(c, b, n-mid-1)
	if err != nil {
		return nil, err
	}
	out = append(out, left...)
	out = append(out, c)
	return append(out, right...), nil
}
