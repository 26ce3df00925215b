package tenants

import (
	"time"

	"github.com/google/uuid"
)

// Tenant is a library organisation: an independent library or a consortium.
type Tenant struct {
	ID        uuid.UUID `json:"id" gorm:"primaryKey"`
	Slug      string    `json:"slug"`
	Name      string    `json:"name"`
	Kind      string    `json:"kind"`
	Timezone  string    `json:"timezone"`
	Country   string    `json:"country"`
	Currency  string    `json:"currency"` // ISO 4217: every amount of money the library keeps
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// StaffUser is a person who works in the library.
type StaffUser struct {
	TenantID     uuid.UUID  `json:"-" gorm:"primaryKey"`
	ID           uuid.UUID  `json:"id" gorm:"primaryKey"`
	Email        string     `json:"email"`
	Name         string     `json:"name"`
	PasswordHash string     `json:"-"`
	Status       string     `json:"status"`
	LastLoginAt  *time.Time `json:"last_login_at"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	Roles        []Grant    `json:"roles" gorm:"-"`
}

type staffGrant struct {
	TenantID  uuid.UUID `gorm:"primaryKey"`
	ID        uuid.UUID `gorm:"primaryKey"`
	UserID    uuid.UUID
	Role      Role
	BranchID  uuid.UUID
	CreatedAt time.Time
}

func (staffGrant) TableName() string { return "staff_grants" }

type session struct {
	TenantID  uuid.UUID `gorm:"primaryKey"`
	ID        uuid.UUID `gorm:"primaryKey"`
	UserID    uuid.UUID
	TokenHash []byte
	IP        string
	UserAgent string
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt *time.Time
}

// APIKey is a credential for an integration: one role at one org unit.
type APIKey struct {
	TenantID   uuid.UUID  `json:"-" gorm:"primaryKey"`
	ID         uuid.UUID  `json:"id" gorm:"primaryKey"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	KeyHash    []byte     `json:"-"`
	Role       Role       `json:"role"`
	BranchID   uuid.UUID  `json:"branch_id"`
	CreatedBy  uuid.UUID  `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	// Key is the secret, present only in the response that creates the key.
	Key string `json:"key,omitempty" gorm:"-"`
}
