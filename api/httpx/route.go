// Package httpx holds the small HTTP helpers every module shares: the route
// declaration, the error shape, JSON binding and keyset pagination.
package httpx

import "github.com/gofiber/fiber/v2"

// Route declares one endpoint. Every route names the permission it needs
// (a tenants.Permission value) or says it is public; api mounts routes with
// the matching middleware, and tests hold every route to the isolation
// table and the OpenAPI document.
type Route struct {
	Method  string
	Path    string // Fiber syntax: /api/v1/branches/:id
	Perm    string // required permission; "" only when Public
	Public  bool   // no authentication, no tenant transaction
	Summary string
	Handler fiber.Handler
	// StreamBody lets the handler read a body larger than the API's body
	// limit from c.Context().RequestBodyStream() (uploads); it enforces its
	// own limit.
	StreamBody bool
	// External marks a handler that calls an outside service (Stripe): the
	// request authenticates in a short transaction and the handler runs
	// without one, opening its own with Pool.Tx around its database work.
	External bool
	// AllowReadOnly keeps a write route open when the library's
	// subscription is inactive (checkins, paying).
	AllowReadOnly bool
}
