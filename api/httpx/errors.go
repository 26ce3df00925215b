package httpx

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"github.com/stacks-ils/stacks/api/errs"
)

// statusOf is the one table from error kind to HTTP status.
var statusOf = map[errs.Kind]int{
	errs.Internal:         http.StatusInternalServerError,
	errs.Invalid:          http.StatusUnprocessableEntity,
	errs.BadRequest:       http.StatusBadRequest,
	errs.NotFound:         http.StatusNotFound,
	errs.Conflict:         http.StatusConflict,
	errs.Forbidden:        http.StatusForbidden,
	errs.Unauthenticated:  http.StatusUnauthorized,
	errs.PaymentRequired:  http.StatusPaymentRequired,
	errs.RateLimited:      http.StatusTooManyRequests,
	errs.TooLarge:         http.StatusRequestEntityTooLarge,
	errs.MethodNotAllowed: http.StatusMethodNotAllowed,
	errs.UnsupportedMedia: http.StatusUnsupportedMediaType,
	errs.Unavailable:      http.StatusServiceUnavailable,
	errs.RequestTimeout:   http.StatusRequestTimeout,
	errs.HeadersTooLarge:  http.StatusRequestHeaderFieldsTooLarge,
}

// Status returns the HTTP status for kind.
func Status(k errs.Kind) int {
	if s, ok := statusOf[k]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// ErrorBody is the JSON error shape: {"error": {"code","message","details"}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

// fiberKinds maps Fiber's own errors (routing, body limit, and what the
// server reports when it cannot read a request: a slow or broken client
// connection comes as 408 or 502, oversized headers as 431) onto our kinds.
// None of them is our failure, so none renders or logs as internal.
var fiberKinds = map[int]*errs.Error{
	fiber.StatusRequestTimeout: errs.E(errs.RequestTimeout, "request_timeout", "the request was not received in time; send it again"),
	fiber.StatusBadGateway:     errs.E(errs.BadRequest, "request_unreadable", "the request could not be read from the connection; send it again"),
	fiber.StatusRequestHeaderFieldsTooLarge: errs.E(errs.HeadersTooLarge, "headers_too_large",
		"the request headers are larger than the server accepts; send fewer or shorter headers"),
	fiber.StatusNotFound:              errs.E(errs.NotFound, "route_not_found", "no such route"),
	fiber.StatusMethodNotAllowed:      errs.E(errs.MethodNotAllowed, "method_not_allowed", "this route does not accept that method"),
	fiber.StatusRequestEntityTooLarge: errs.E(errs.TooLarge, "body_too_large", "request body is larger than the limit"),
	fiber.StatusBadRequest:            errs.E(errs.BadRequest, "bad_request", "malformed request"),
	fiber.StatusUnsupportedMediaType:  errs.E(errs.UnsupportedMedia, "unsupported_media_type", "unsupported Content-Type"),
}

// ToError turns any error into the *errs.Error to render. Unknown errors
// become a generic internal error: their text (SQL, stack details) is logged,
// never sent.
func ToError(err error) *errs.Error {
	if e := errs.As(err); e != nil {
		return e
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		if e, ok := fiberKinds[fe.Code]; ok {
			cp := *e
			return &cp
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return errs.E(errs.Unavailable, "timeout", "the request took too long; try again")
	}
	return errs.E(errs.Internal, "internal", "something went wrong on our side; the request id identifies it in our logs")
}

// ErrorHandler renders every error as the JSON error shape. log receives
// internal errors with the request id.
func ErrorHandler(log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		e := ToError(err)
		status := Status(e.Kind)
		if e.Kind == errs.Internal || e.Kind == errs.Unavailable {
			log.ErrorContext(c.UserContext(), "request failed",
				"request_id", RequestID(c), "method", c.Method(), "path", c.Path(), "error", err.Error())
		}
		return c.Status(status).JSON(ErrorBody{Error: ErrorDetail{Code: e.Code, Message: e.Message, Details: e.Details}})
	}
}

// RequestID returns the request id set by the requestid middleware.
func RequestID(c *fiber.Ctx) string {
	if v, ok := c.Locals("requestid").(string); ok {
		return v
	}
	return ""
}
