package tenants

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/errs"
)

// LoginInput is the body of POST /api/v1/auth/login.
type LoginInput struct {
	Tenant   string `json:"tenant"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

// LoginResult is a new session.
type LoginResult struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

var errBadLogin = errs.E(errs.Unauthenticated, "invalid_credentials", "the library, email or password is wrong")

// dummyHash is verified when the account does not exist, so a wrong email
// costs as long as a wrong password and timing does not reveal accounts.
var dummyHash = func() string {
	h, _ := hashPassword("stacks-dummy-password", DefaultHashParams)
	return h
}()

// Login checks credentials and opens a session. Failures are counted per
// account and per IP; past the limits, attempts are refused until the
// window passes, whatever the password.
func (s *Service) Login(ctx context.Context, in LoginInput, ip, userAgent string) (*LoginResult, error) {
	email := strings.ToLower(strings.TrimSpace(in.Email))
	slug := strings.ToLower(strings.TrimSpace(in.Tenant))
	if slug == "" || email == "" || in.Password == "" {
		return nil, errs.E(errs.Invalid, "required", "tenant, email and password are required")
	}
	acctKey, ipKey := "login:fail:acct:"+slug+":"+email, "login:fail:ip:"+ip
	for _, k := range []struct {
		key   string
		limit int
	}{{acctKey, s.opt.MaxFailuresPerAccount}, {ipKey, s.opt.MaxFailuresPerIP}} {
		n, ttl, err := s.counter.Get(ctx, k.key)
		if err != nil {
			return nil, &errs.Error{Kind: errs.Unavailable, Code: "unavailable", Message: "login is briefly unavailable; try again in a minute", Err: err}
		}
		if n >= int64(k.limit) {
			mins := int(ttl.Round(time.Minute) / time.Minute)
			return nil, errs.E(errs.RateLimited, "login_locked",
				fmt.Sprintf("too many failed logins; try again in %d minutes", max(mins, 1))).
				WithDetails(map[string]any{"retry_after_seconds": int(ttl.Seconds())})
		}
	}
	fail := func() error {
		for _, k := range []string{acctKey, ipKey} {
			if _, err := s.counter.Incr(ctx, k, s.opt.LockoutWindow); err != nil {
				return &errs.Error{Kind: errs.Unavailable, Code: "unavailable", Message: "login is briefly unavailable; try again in a minute", Err: err}
			}
		}
		return errBadLogin
	}
	t, err := s.pool.TenantBySlug(ctx, slug)
	if err != nil {
		return nil, err
	}
	if t == nil {
		verifyPassword(in.Password, dummyHash)
		return nil, fail()
	}
	var res *LoginResult
	err = s.pool.Tx(ctx, t.ID, func(ctx context.Context, tx *gorm.DB) error {
		var u StaffUser
		r := tx.Where("email = ? AND status = 'active'", email).Limit(1).Find(&u)
		if r.Error != nil {
			return fmt.Errorf("login: find user: %w", r.Error)
		}
		if r.RowsAffected == 0 {
			verifyPassword(in.Password, dummyHash)
			return errBadLogin
		}
		if !verifyPassword(in.Password, u.PasswordHash) {
			return errBadLogin
		}
		token, exp, err := s.newSession(tx, &u, ip, userAgent)
		if err != nil {
			return err
		}
		if err := tx.Exec(`UPDATE staff_users SET last_login_at = now() WHERE id = ?`, u.ID).Error; err != nil {
			return fmt.Errorf("login: %w", err)
		}
		res = &LoginResult{Token: token, ExpiresAt: exp}
		return nil
	})
	if errors.Is(err, errBadLogin) {
		return nil, fail()
	}
	if err != nil {
		return nil, err
	}
	_ = s.counter.Reset(ctx, acctKey) // a success forgives the account's earlier typos
	return res, nil
}

func (s *Service) newSession(tx *gorm.DB, u *StaffUser, ip, userAgent string) (string, time.Time, error) {
	token, hash := newToken(sessionTokenKind, u.TenantID)
	now := s.now()
	sess := session{TenantID: u.TenantID, ID: NewID(), UserID: u.ID, TokenHash: hash, IP: ip,
		UserAgent: truncate(userAgent, 300), CreatedAt: now, ExpiresAt: now.Add(s.opt.SessionTTL)}
	if err := tx.Create(&sess).Error; err != nil {
		return "", time.Time{}, fmt.Errorf("create session: %w", err)
	}
	return token, sess.ExpiresAt, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Logout revokes the caller's session. API keys are revoked with
// DELETE /api-keys/{id} instead.
func (s *Service) Logout(ctx context.Context) error {
	p := PrincipalFrom(ctx)
	if p == nil || p.SessionID == uuid.Nil {
		return errs.E(errs.Conflict, "not_a_session", "logout ends a login session; revoke API keys with DELETE /api/v1/api-keys/{id}")
	}
	db, err := DB(ctx)
	if err != nil {
		return err
	}
	if err := db.Exec(`UPDATE sessions SET revoked_at = now() WHERE id = ? AND revoked_at IS NULL`, p.SessionID).Error; err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	return nil
}

// Authenticate resolves a bearer token inside the tenant transaction in ctx
// (opened by the caller for the token's tenant). It returns an
// Unauthenticated error for unknown, expired or revoked credentials.
func (s *Service) Authenticate(ctx context.Context, token string) (*Principal, error) {
	kind, tenant, ok := parseToken(token)
	if !ok {
		return nil, errBadToken
	}
	cur, err := CurrentTenant(ctx)
	if err != nil {
		return nil, err
	}
	if cur != tenant {
		return nil, errBadToken
	}
	db, err := DB(ctx)
	if err != nil {
		return nil, err
	}
	var row struct {
		ID     uuid.UUID
		UserID uuid.UUID
		Email  string
		Name   string
		Grants []byte
		Access []byte
		Epoch  int64
	}
	var q string
	if kind == sessionTokenKind {
		// One round trip: session, user and grants.
		q = `SELECT s.id, s.user_id, u.email, u.name,
		  COALESCE(json_agg(json_build_object('role', g.role, 'branch_id', g.branch_id)) FILTER (WHERE g.id IS NOT NULL), '[]') AS grants,
		  app.tenant_access() AS access, ` + EpochSQL + ` AS epoch
		FROM sessions s
		JOIN staff_users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id AND u.status = 'active'
		LEFT JOIN staff_grants g ON g.tenant_id = s.tenant_id AND g.user_id = s.user_id
		WHERE s.token_hash = ? AND s.revoked_at IS NULL AND s.expires_at > now()
		GROUP BY s.id, s.user_id, u.email, u.name`
	} else {
		q = `SELECT k.id, NULL::uuid AS user_id, '' AS email, k.name,
		  json_build_array(json_build_object('role', k.role, 'branch_id', k.branch_id)) AS grants,
		  app.tenant_access() AS access, ` + EpochSQL + ` AS epoch
		FROM api_keys k
		WHERE k.key_hash = ? AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())`
	}
	r := db.Raw(q, hashToken(token)).Scan(&row)
	if r.Error != nil {
		return nil, fmt.Errorf("authenticate: %w", r.Error)
	}
	if r.RowsAffected == 0 {
		return nil, errBadToken
	}
	setEpoch(ctx, row.Epoch)
	p := &Principal{TenantID: tenant, Email: row.Email, Name: row.Name}
	if err := json.Unmarshal(row.Grants, &p.Grants); err != nil {
		return nil, fmt.Errorf("authenticate: grants: %w", err)
	}
	if p.Access, err = parseAccess(row.Access); err != nil {
		return nil, err
	}
	if kind == sessionTokenKind {
		p.SessionID, p.UserID = row.ID, row.UserID
	} else {
		p.APIKeyID = row.ID
		// Throttled so a busy integration does not write on every request.
		if err := db.Exec(`UPDATE api_keys SET last_used_at = now() WHERE id = ?
			AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`, row.ID).Error; err != nil {
			return nil, fmt.Errorf("authenticate: %w", err)
		}
	}
	return p, nil
}

var errBadToken = errs.E(errs.Unauthenticated, "invalid_token", "the access token is missing, expired or revoked; log in again")

// ErrBadToken is returned for any credential that does not authenticate.
var ErrBadToken = errBadToken

// SessionRetention is how long expired or revoked sessions are kept (for
// "where am I logged in" and incident review) before the purge deletes them.
const SessionRetention = 30 * 24 * time.Hour

// PurgeSessions deletes the tenant's sessions that ended more than
// SessionRetention ago and returns how many it deleted.
func (s *Service) PurgeSessions(ctx context.Context, tenantID uuid.UUID) (int64, error) {
	var n int64
	cutoff := s.now().Add(-SessionRetention)
	err := s.pool.Tx(ctx, tenantID, func(ctx context.Context, tx *gorm.DB) error {
		r := tx.Exec(`DELETE FROM sessions WHERE expires_at < ? OR revoked_at < ?`, cutoff, cutoff)
		n = r.RowsAffected
		return r.Error
	})
	if err != nil {
		return 0, fmt.Errorf("purge sessions of %s: %w", tenantID, err)
	}
	return n, nil
}
