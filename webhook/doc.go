// Package webhook holds what both ends of a taskboard webhook need: the
// Standard Webhooks signature (Sign, Verify), the secrets (NewSecret), and
// the HTTP client that sends deliveries without reaching addresses that
// must not be reached (NewClient, CheckAddr, CheckURL).
//
// A receiver written in Go checks a delivery with Verify:
//
//	body, _ := io.ReadAll(r.Body)
//	if err := webhook.Verify(secret, r.Header, body, time.Now()); err != nil {
//		http.Error(w, "bad signature", http.StatusUnauthorized)
//		return
//	}
package webhook
