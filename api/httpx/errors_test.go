package httpx

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// The errors Fiber's server reports when it cannot read a request (slow or
// broken connections, oversized headers) are the client's, not ours: each
// renders with its own status and code and is not an internal error.
func TestToError_ServerReadErrors(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{fiber.ErrRequestTimeout, http.StatusRequestTimeout, "request_timeout"},
		{fiber.ErrBadGateway, http.StatusBadRequest, "request_unreadable"},
		{fiber.ErrRequestHeaderFieldsTooLarge, http.StatusRequestHeaderFieldsTooLarge, "headers_too_large"},
		{fmt.Errorf("wrapped: %w", fiber.ErrRequestTimeout), http.StatusRequestTimeout, "request_timeout"},
		{fiber.ErrNotFound, http.StatusNotFound, "route_not_found"},
		{errors.New("boom"), http.StatusInternalServerError, "internal"},
	} {
		e := ToError(tc.err)
		if got := Status(e.Kind); got != tc.status || e.Code != tc.code {
			t.Errorf("ToError(%v) = %d %s, want %d %s", tc.err, got, e.Code, tc.status, tc.code)
		}
	}
}
