package taskboard

// SetMaxRankLen sets the longest order key writes make before respacing,
// for tests, and returns a function that restores it.
func SetMaxRankLen(n int) (restore func()) {
	old := maxRankLen
	maxRankLen = n
	return func() { maxRankLen = old }
}
