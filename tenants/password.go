package tenants

import (
	_ "embed"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"

	"github.com/stacks-ils/stacks/api/errs"
)

// HashParams are the argon2id parameters. DefaultHashParams follow OWASP's
// password storage guidance (19 MiB, 2 passes, 1 lane); tests use cheaper ones.
type HashParams = argon2id.Params

// DefaultHashParams is the production cost.
var DefaultHashParams = HashParams{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 10

//go:embed common_passwords.txt
var commonPasswordsText string

var commonPasswords = func() map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(commonPasswordsText, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			m[strings.ToLower(l)] = true
		}
	}
	return m
}()

// CheckPassword enforces the password policy: at least MinPasswordLength
// characters, not a well-known password, not one character repeated, and
// not containing the account's email name or the library's slug.
func CheckPassword(field, pw string, avoid ...string) error {
	if utf8.RuneCountInString(pw) < MinPasswordLength {
		return errs.Field(field, "weak_password", fmt.Sprintf("password must be at least %d characters", MinPasswordLength))
	}
	if utf8.RuneCountInString(pw) > 256 {
		return errs.Field(field, "weak_password", "password must be at most 256 characters")
	}
	low := strings.ToLower(pw)
	if commonPasswords[low] || strings.Count(low, low[:1]) == len(low) {
		return errs.Field(field, "weak_password", "this password is too common; choose one that is harder to guess")
	}
	for _, a := range avoid {
		if a = strings.ToLower(a); len(a) >= 4 && strings.Contains(low, a) {
			return errs.Field(field, "weak_password", "password must not contain your email name or the library's slug")
		}
	}
	return nil
}

func hashPassword(pw string, p HashParams) (string, error) {
	h, err := argon2id.CreateHash(pw, &p)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return h, nil
}

func verifyPassword(pw, hash string) bool {
	ok, err := argon2id.ComparePasswordAndHash(pw, hash)
	return err == nil && ok
}

// HashSecret hashes a secret that is not a staff password (a patron's PIN)
// with the service's parameters.
func (s *Service) HashSecret(secret string) (string, error) { return hashPassword(secret, s.opt.Hash) }

// VerifySecret reports whether secret matches a hash made by HashSecret.
func VerifySecret(secret, hash string) bool { return verifyPassword(secret, hash) }
