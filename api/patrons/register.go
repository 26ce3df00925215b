package patrons

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

// Self-registration modes (circ_settings.self_registration).
const (
	SelfRegOff               = "off"
	SelfRegStaffApproval     = "staff_approval"
	SelfRegEmailVerification = "email_verification"
)

// RegisterInput is the body of POST /opac/register.
type RegisterInput struct {
	Library      string     `json:"library"` // the library's slug
	FirstName    string     `json:"first_name"`
	LastName     string     `json:"last_name"`
	Email        string     `json:"email"`
	Phone        string     `json:"phone"`
	BirthDate    *string    `json:"birth_date"`
	HomeBranchID *uuid.UUID `json:"home_branch_id"`
	Pin          string     `json:"pin"`
}

// Registration is the answer to a self-registration: nothing secret.
type Registration struct {
	PatronID   uuid.UUID `json:"patron_id"`
	Status     string    `json:"status"`
	CardNumber string    `json:"card_number"`
	// Verification says what happens next: "email" (a link is on its way)
	// or "staff_approval" (the library approves it).
	Verification string `json:"verification"`
}

// VerifyInput is the body of POST /opac/verify-email.
type VerifyInput struct {
	Library string `json:"library"`
	Token   string `json:"token"`
}

// Verified is the answer to a verified email address.
type Verified struct {
	PatronID uuid.UUID `json:"patron_id"`
	Status   string    `json:"status"`
}

var errLibraryNotFound = errs.E(errs.NotFound, "library_not_found", "no library with this name; check the address you were given")

// libraryTx runs fn in a transaction of the active library with slug: the
// public (OPAC) routes have no token to take the tenant from.
func (s *Service) libraryTx(ctx context.Context, slug string, fn func(ctx context.Context) error) error {
	slug = strings.ToLower(strings.TrimSpace(slug))
	if slug == "" {
		return errs.Field("library", "required", "library is required: the library's short name (slug)")
	}
	t, err := s.pool.TenantBySlug(ctx, slug)
	if err != nil {
		return err
	}
	if t == nil || t.Status != "active" {
		return errLibraryNotFound
	}
	return s.pool.Tx(ctx, t.ID, func(ctx context.Context, _ *gorm.DB) error { return fn(ctx) })
}

type selfRegSettings struct {
	SelfRegistration         string
	SelfRegistrationCategory string
}

func loadSelfRegSettings(ctx context.Context) (selfRegSettings, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return selfRegSettings{}, err
	}
	st := selfRegSettings{SelfRegistration: SelfRegOff}
	if err := db.Raw(`SELECT self_registration, self_registration_category FROM circ_settings`).Scan(&st).Error; err != nil {
		return st, fmt.Errorf("self-registration settings: %w", err)
	}
	return st, nil
}

// Register creates a pending patron from the OPAC. Depending on the
// library's setting the record waits for staff approval or for the patron
// to verify the email address.
func (s *Service) Register(ctx context.Context, in RegisterInput) (*Registration, error) {
	var out *Registration
	err := s.libraryTx(ctx, in.Library, func(ctx context.Context) error {
		st, err := loadSelfRegSettings(ctx)
		if err != nil {
			return err
		}
		if st.SelfRegistration == SelfRegOff || st.SelfRegistration == "" {
			return errs.E(errs.Forbidden, "self_registration_disabled", "this library does not take registrations online; please visit a branch")
		}
		out, err = s.register(ctx, in, st)
		return err
	})
	return out, err
}

func (s *Service) register(ctx context.Context, in RegisterInput, st selfRegSettings) (*Registration, error) {
	tenant, _ := tenants.CurrentTenant(ctx)
	if strings.TrimSpace(in.Email) == "" {
		return nil, errs.Field("email", "required", "email is required")
	}
	if in.Pin == "" {
		return nil, errs.Field("pin", "required", "pin is required: choose 4 to 64 characters to sign in with")
	}
	p := Patron{TenantID: tenant, ID: tenants.NewID(), Status: StatusPending, NoticeChannel: "email",
		HistoryPrivacy: "keep", Category: st.SelfRegistrationCategory}
	pi := PatronInput{FirstName: &in.FirstName, LastName: &in.LastName, Email: &in.Email, Phone: &in.Phone,
		BirthDate: in.BirthDate, Pin: &in.Pin}
	if err := pi.apply(s, &p); err != nil {
		return nil, err
	}
	if in.HomeBranchID != nil {
		p.HomeBranchID = *in.HomeBranchID
	} else {
		id, err := defaultBranch(ctx)
		if err != nil {
			return nil, err
		}
		p.HomeBranchID = id
	}
	if _, err := s.GetCategory(ctx, p.Category); err != nil {
		if errs.KindOf(err) == errs.NotFound {
			return nil, &errs.Error{Kind: errs.Conflict, Code: "self_registration_misconfigured",
				Message: "the library's self-registration category does not exist; please tell the library", Err: err}
		}
		return nil, err
	}
	card, err := newCardNumber(ctx)
	if err != nil {
		return nil, err
	}
	p.CardNumber = card
	if err := s.tenants.CheckLimit(ctx, tenants.ResourcePatrons, 1); err != nil {
		return nil, err
	}
	if err := s.insert(ctx, &p, false); err != nil {
		return nil, err
	}
	reg := &Registration{PatronID: p.ID, Status: p.Status, CardNumber: p.CardNumber, Verification: SelfRegStaffApproval}
	if st.SelfRegistration == SelfRegEmailVerification {
		// Only the token's hash is kept on the patron; the code goes to the
		// address in a verification notice (outbox, same transaction).
		token, err := s.IssueVerification(ctx, p.ID)
		if err != nil {
			return nil, err
		}
		if s.notifier != nil {
			if err := s.notifier.QueueVerification(ctx, Verification{PatronID: p.ID, Email: p.Email,
				FirstName: p.FirstName, LastName: p.LastName, CardNumber: p.CardNumber, Code: token}); err != nil {
				return nil, err
			}
		}
		reg.Verification = "email"
	} else if s.notifier != nil && p.Email != "" {
		if err := s.notifier.QueueWelcome(ctx, &p); err != nil {
			return nil, err
		}
	}
	return reg, nil
}

// defaultBranch is the library's first service point (the root when it has
// no branch).
func defaultBranch(ctx context.Context) (uuid.UUID, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return uuid.Nil, err
	}
	var id uuid.UUID
	if err := db.Raw(`SELECT id FROM branches ORDER BY (kind = 'branch') DESC, (parent_id IS NULL), id LIMIT 1`).Row().Scan(&id); err != nil {
		return uuid.Nil, fmt.Errorf("default branch: %w", err)
	}
	return id, nil
}

// newCardNumber draws a 14-digit card number whose last digit is a Luhn
// check digit (typing errors at the desk are caught), unused in the library.
func newCardNumber(ctx context.Context) (string, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return "", err
	}
	for range 10 {
		n, err := rand.Int(rand.Reader, big.NewInt(9_000_000_000_000))
		if err != nil {
			return "", fmt.Errorf("card number: %w", err)
		}
		body := fmt.Sprintf("%013d", n.Int64()+1_000_000_000_000)
		card := body + string(rune('0'+luhnDigit(body)))
		var taken int64
		if err := db.Raw(`SELECT count(*) FROM patrons WHERE card_number = ?`, card).Row().Scan(&taken); err != nil {
			return "", fmt.Errorf("card number: %w", err)
		}
		if taken == 0 {
			return card, nil
		}
	}
	return "", errs.E(errs.Unavailable, "card_number_exhausted", "could not draw a free card number; try again")
}

// luhnDigit is the Luhn check digit of a string of digits.
func luhnDigit(digits string) int {
	sum := 0
	double := true // the check digit will be appended on the right
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return (10 - sum%10) % 10
}

func hashVerifyToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Verification is what a verification notice says.
type Verification struct {
	PatronID                               uuid.UUID
	Email, FirstName, LastName, CardNumber string
	Code                                   string // the token POST /opac/verify-email takes
}

// Notifier sends the verification notice; implemented by notices.
type Notifier interface {
	QueueVerification(ctx context.Context, v Verification) error
	// QueueWelcome greets a new patron (when they have an address).
	QueueWelcome(ctx context.Context, p *Patron) error
}

// SetNotifier connects the notices module.
func (s *Service) SetNotifier(n Notifier) *Service {
	s.notifier = n
	return s
}

// IssueVerification creates a new email-verification token for a patron in
// the tenant transaction of ctx and returns it; only its SHA-256 is stored,
// and a new token replaces the previous one. Registration mails it in a
// verification notice.
func (s *Service) IssueVerification(ctx context.Context, patronID uuid.UUID) (string, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return "", err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("verification token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	r := db.Exec(`UPDATE patrons SET verify_token_hash = ?, updated_at = now() WHERE id = ? AND status <> 'merged'`,
		hashVerifyToken(token), patronID)
	if r.Error != nil {
		return "", fmt.Errorf("store verification token: %w", r.Error)
	}
	if r.RowsAffected == 0 {
		return "", errs.E(errs.NotFound, "patron_not_found", "no patron with this id")
	}
	return token, nil
}

// VerifyEmail marks the address of the patron the token was issued to as
// verified and activates a pending registration. A token works once.
func (s *Service) VerifyEmail(ctx context.Context, in VerifyInput) (*Verified, error) {
	token := strings.TrimSpace(in.Token)
	if token == "" {
		return nil, errs.Field("token", "required", "token is required: the code from the verification email")
	}
	var out *Verified
	err := s.libraryTx(ctx, in.Library, func(ctx context.Context) error {
		db, err := tenants.DB(ctx)
		if err != nil {
			return err
		}
		var p Patron
		r := db.Raw(`SELECT * FROM patrons WHERE verify_token_hash = ? FOR UPDATE`, hashVerifyToken(token)).Scan(&p)
		if r.Error != nil {
			return fmt.Errorf("verify email: %w", r.Error)
		}
		if r.RowsAffected == 0 {
			return errs.Field("token", "invalid_token", "this verification link is not valid or was already used")
		}
		status := p.Status
		if status == StatusPending {
			status = StatusActive
		}
		if err := db.Exec(`UPDATE patrons SET status = ?, email_verified_at = ?, verify_token_hash = NULL, updated_at = now()
			WHERE id = ?`, status, s.now().UTC().Truncate(time.Microsecond), p.ID).Error; err != nil {
			return fmt.Errorf("verify email: %w", err)
		}
		out = &Verified{PatronID: p.ID, Status: status}
		return nil
	})
	return out, err
}
