package tenants

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
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

// Auth is one request's authentication. Its statement (Lead) travels in
// the same round trip as the BEGIN of the request's tenant transaction
// (Pool.TxLead); Principal then reads what it returned.
type Auth struct {
	svc    *Service
	kind   string
	tenant uuid.UUID
	hash   []byte
	found  bool
	row    struct {
		ID     pgtype.UUID
		UserID pgtype.UUID
		Email  string
		Name   string
		Grants []byte
		Access []byte
		Epoch  int64
	}
}

// NewAuth starts the authentication of a bearer token (session token or
// API key). A malformed token is an Unauthenticated error at once.
func (s *Service) NewAuth(token string) (*Auth, error) {
	kind, tenant, ok := parseToken(token)
	if !ok {
		return nil, errBadToken
	}
	return &Auth{svc: s, kind: kind, tenant: tenant, hash: hashToken(token)}, nil
}

// Tenant is the library the token claims; the transaction is opened for it
// and the statement finds the credential only there (RLS).
func (a *Auth) Tenant() uuid.UUID { return a.tenant }

// The authentication statements of sessions and API keys. Every request
// runs one, so each part is a plain subquery planned with the statement
// (once per connection): the subscription's access comes from the view
// app.tenant_access_v, not through the PL/pgSQL function (a second
// executor per request), and the grants are a subquery, not a GROUP BY
// over a join (migrations/0023_auth_access.sql has the measurements).
const (
	authAccessSQL  = `(SELECT access FROM app.tenant_access_v)`
	authSessionSQL = `SELECT s.id, s.user_id, u.email, u.name,
		  COALESCE((SELECT json_agg(json_build_object('role', g.role, 'branch_id', g.branch_id)) FROM staff_grants g
		    WHERE g.tenant_id = s.tenant_id AND g.user_id = s.user_id), '[]') AS grants,
		  ` + authAccessSQL + ` AS access, ` + EpochSQL + ` AS epoch
		FROM sessions s
		JOIN staff_users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id AND u.status = 'active'
		WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now()`
	authKeySQL = `SELECT k.id, NULL::uuid AS user_id, '' AS email, k.name,
		  json_build_array(json_build_object('role', k.role, 'branch_id', k.branch_id)) AS grants,
		  ` + authAccessSQL + ` AS access, ` + EpochSQL + ` AS epoch
		FROM api_keys k
		WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())`
)

// Lead is the authentication statement, for Pool.TxLead: the session (or
// API key), the user, their grants, the library's subscription access
// (app.tenant_access_v) and its configuration epoch, in one statement.
func (a *Auth) Lead() Lead {
	q := authSessionSQL
	if a.kind != sessionTokenKind {
		q = authKeySQL
	}
	return Lead{SQL: q, Args: []any{a.hash}, Scan: func(rows pgx.Rows) error {
		for rows.Next() {
			r := &a.row
			if err := rows.Scan(&r.ID, &r.UserID, &r.Email, &r.Name, &r.Grants, &r.Access, &r.Epoch); err != nil {
				return fmt.Errorf("authenticate: %w", err)
			}
			a.found = true
		}
		return rows.Err()
	}}
}

// Principal returns who the request acts as, inside the transaction whose
// lead statement was a.Lead(). Unknown, expired or revoked credentials are
// an Unauthenticated error.
func (a *Auth) Principal(ctx context.Context) (*Principal, error) {
	cur, err := CurrentTenant(ctx)
	if err != nil {
		return nil, err
	}
	if cur != a.tenant || !a.found {
		return nil, errBadToken
	}
	row := &a.row
	setEpoch(ctx, row.Epoch)
	p := &Principal{TenantID: a.tenant, Email: row.Email, Name: row.Name}
	if err := json.Unmarshal(row.Grants, &p.Grants); err != nil {
		return nil, fmt.Errorf("authenticate: grants: %w", err)
	}
	if p.Access, err = parseAccess(row.Access); err != nil {
		return nil, err
	}
	if a.kind == sessionTokenKind {
		p.SessionID, p.UserID = uuid.UUID(row.ID.Bytes), uuid.UUID(row.UserID.Bytes)
		return p, nil
	}
	p.APIKeyID = uuid.UUID(row.ID.Bytes)
	db, err := DB(ctx)
	if err != nil {
		return nil, err
	}
	// Throttled so a busy integration does not write on every request.
	if err := db.Exec(`UPDATE api_keys SET last_used_at = now() WHERE id = ?
			AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`, p.APIKeyID).Error; err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
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
