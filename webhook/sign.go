package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of a delivery, as the Standard Webhooks specification names
// them.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every secret.
const SecretPrefix = "whsec_"

// Tolerance is how far a delivery's timestamp may be from the receiver's
// clock for Verify to accept it.
const Tolerance = 5 * time.Minute

// Errors of Verify. Each error Verify returns matches ErrVerify.
var (
	// ErrVerify is any failed verification.
	ErrVerify = errors.New("webhook: verification failed")
	// ErrBadSecret reports a secret that is not whsec_ and base64.
	ErrBadSecret = errors.New("webhook: malformed secret")
)

// NewSecret returns a new secret: "whsec_" and the base64 of 32 random
// bytes.
func NewSecret() string {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic("webhook: no randomness: " + err.Error())
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// DecodeSecret returns the key bytes of a secret. The "whsec_" prefix is
// optional.
func DecodeSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil || len(key) == 0 {
		return nil, ErrBadSecret
	}
	return key, nil
}

// Sign returns the webhook-signature header value of a delivery: "v1,"
// and the base64 HMAC-SHA256 of "<id>.<timestamp>.<body>" keyed with the
// secret's decoded bytes.
func Sign(secret, id string, timestamp time.Time, body []byte) (string, error) {
	key, err := DecodeSecret(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, strconv.FormatInt(timestamp.Unix(), 10), body)), nil
}

func mac(key []byte, id, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a delivery received at now: that its webhook-timestamp is
// within Tolerance of now and that one of the space-separated v1
// signatures of webhook-signature is the body's, signed with secret. It
// returns nil for a genuine delivery, else an error matching ErrVerify
// (or ErrBadSecret for a malformed secret). A receiver that drops repeats
// remembers the webhook-id values it has handled.
func Verify(secret string, header http.Header, body []byte, now time.Time) error {
	key, err := DecodeSecret(secret)
	if err != nil {
		return err
	}
	id, ts, sigs := header.Get(HeaderID), header.Get(HeaderTimestamp), header.Get(HeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return fmt.Errorf("%w: missing %s, %s or %s header", ErrVerify, HeaderID, HeaderTimestamp, HeaderSignature)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: malformed timestamp %q", ErrVerify, ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > Tolerance || d < -Tolerance {
		return fmt.Errorf("%w: timestamp %d too far from now", ErrVerify, sec)
	}
	want := mac(key, id, ts, body)
	for _, s := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("%w: no matching signature", ErrVerify)
}
