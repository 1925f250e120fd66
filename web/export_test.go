package web

// LocationAfterSignIn is the Location header the portal sends after a
// sign-in whose return_to was raw (for the browser test of return_to).
var LocationAfterSignIn = locationFor

// ReturnToCandidates are return_to values built from the characters that
// change how a browser parses a URL (the seeds and n generated ones).
func ReturnToCandidates(n int) []string {
	return append(append([]string{}, returnToSeeds...), generatedReturnTo(n)...)
}
