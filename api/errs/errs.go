// Package errs is the one error type of Stacks: an error with a kind that
// decides the HTTP status (and whether a background task retries), a stable
// machine-readable code, and a message a person can act on.
package errs

import (
	"errors"
	"fmt"
)

// Kind classifies an error. The set is append-only; api/httpx maps each kind
// to an HTTP status in one table.
type Kind uint8

const (
	Internal         Kind = iota // a bug or an unexpected failure; details are logged, never shown
	Invalid                      // well-formed request that breaks a rule (422)
	BadRequest                   // malformed request: bad JSON, unknown field, bad query parameter (400)
	NotFound                     // no such resource, or not visible to this tenant (404)
	Conflict                     // the resource's state forbids the change (409)
	Forbidden                    // authenticated, but lacking the permission (403)
	Unauthenticated              // no or bad credentials (401)
	PaymentRequired              // the subscription does not cover this (402)
	RateLimited                  // too many requests (429)
	TooLarge                     // request body over the limit (413)
	MethodNotAllowed             // route exists with another method (405)
	UnsupportedMedia             // Content-Type not accepted (415)
	Unavailable                  // a dependency is down; retry later (503)
	RequestTimeout               // the client did not send its request in time (408)
	HeadersTooLarge              // request headers over the server's buffer (431)
)

var kindNames = [...]string{
	Internal: "internal", Invalid: "invalid", BadRequest: "bad_request", NotFound: "not_found",
	Conflict: "conflict", Forbidden: "forbidden", Unauthenticated: "unauthenticated",
	PaymentRequired: "payment_required", RateLimited: "rate_limited", TooLarge: "too_large",
	MethodNotAllowed: "method_not_allowed", UnsupportedMedia: "unsupported_media_type",
	Unavailable: "unavailable", RequestTimeout: "request_timeout", HeadersTooLarge: "headers_too_large",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Error is the error type every package returns for expected failures.
type Error struct {
	Kind    Kind
	Code    string         // stable, snake_case: "slug_taken", "item_unavailable"
	Message string         // for people; safe to show to the client
	Details map[string]any // optional structured facts (field names, limits)
	Err     error          // wrapped cause; never shown to clients
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an Error. code defaults to the kind's name.
func E(kind Kind, code, message string) *Error {
	if code == "" {
		code = kind.String()
	}
	return &Error{Kind: kind, Code: code, Message: message}
}

// WithDetails returns e with the given details attached.
func (e *Error) WithDetails(d map[string]any) *Error {
	e.Details = d
	return e
}

// Field is the common "this input field is wrong" error (422).
func Field(field, code, message string) *Error {
	return &Error{Kind: Invalid, Code: code, Message: message, Details: map[string]any{"field": field}}
}

// NotFoundf is the common 404 for a resource type.
func NotFoundf(format string, args ...any) *Error {
	return &Error{Kind: NotFound, Code: "not_found", Message: fmt.Sprintf(format, args...)}
}

// As returns the *Error in err's chain, or nil.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// KindOf returns the kind of err: Internal for errors that are not *Error.
func KindOf(err error) Kind {
	if e := As(err); e != nil {
		return e.Kind
	}
	return Internal
}
