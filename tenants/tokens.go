package tenants

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"github.com/google/uuid"
)

// Token kinds. A token is "<kind>_<tenant id hex>_<secret>": the tenant part
// lets authentication open the right tenant transaction before the lookup;
// the lookup compares the SHA-256 of the whole token inside that tenant's
// rows, so a token of tenant A rewritten to name tenant B matches nothing.
const (
	sessionTokenKind = "st"
	apiKeyKind       = "sk"
)

func newToken(kind string, tenant uuid.UUID) (token string, hash []byte) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never happens on supported platforms
	}
	token = kind + "_" + hex.EncodeToString(tenant[:]) + "_" + base64.RawURLEncoding.EncodeToString(secret)
	return token, hashToken(token)
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// parseToken splits a token into its kind and tenant; ok is false for
// anything that is not a well-formed token.
func parseToken(token string) (kind string, tenant uuid.UUID, ok bool) {
	parts := strings.SplitN(token, "_", 3)
	if len(parts) != 3 || len(parts[1]) != 32 || len(parts[2]) != 43 {
		return "", uuid.Nil, false
	}
	raw, err := hex.DecodeString(parts[1])
	if err != nil {
		return "", uuid.Nil, false
	}
	copy(tenant[:], raw)
	if parts[0] != sessionTokenKind && parts[0] != apiKeyKind || tenant == uuid.Nil {
		return "", uuid.Nil, false
	}
	return parts[0], tenant, true
}

// patronLinkKind marks the tokens in links mailed to patrons: they are
// never bearer tokens (parseToken refuses them).
const patronLinkKind = "pl"

// NewPatronLinkToken makes a token for a link in a patron's mail and the
// hash to store.
func NewPatronLinkToken(tenant uuid.UUID) (token string, hash []byte) {
	return newToken(patronLinkKind, tenant)
}

// PatronLinkToken returns the library a patron-link token names and the
// hash to look it up by; ok is false for anything else.
func PatronLinkToken(token string) (tenant uuid.UUID, hash []byte, ok bool) {
	parts := strings.SplitN(token, "_", 3)
	if len(parts) != 3 || parts[0] != patronLinkKind || len(parts[1]) != 32 || len(parts[2]) != 43 {
		return uuid.Nil, nil, false
	}
	raw, err := hex.DecodeString(parts[1])
	if err != nil {
		return uuid.Nil, nil, false
	}
	copy(tenant[:], raw)
	return tenant, hashToken(token), tenant != uuid.Nil
}
