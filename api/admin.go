package api

import (
	"crypto/subtle"
	"encoding/base64"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/hibiken/asynqmon"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/httpx"
)

// adminQueuesPath is where the Asynq dashboard (asynqmon) is mounted.
const adminQueuesPath = "/admin/queues"

// adminRoutes mount the Asynq dashboard for platform operators: the queues
// of every library, so no tenant staff may see it. It answers only with the
// operator's ADMIN_TOKEN (HTTP basic auth with any user name, or a bearer
// token) and only when the server knows the queues' Redis.
func (s *Server) adminRoutes() []httpx.Route {
	var dashboard fiber.Handler
	if s.cfg.AdminToken != "" && s.deps.Queues != nil {
		dashboard = adaptor.HTTPHandler(asynqmon.New(asynqmon.Options{RootPath: adminQueuesPath, RedisConnOpt: s.deps.Queues}))
	}
	h := func(c *fiber.Ctx) error {
		if dashboard == nil {
			return errs.E(errs.NotFound, "dashboard_disabled", "the queue dashboard is off: set ADMIN_TOKEN to turn it on")
		}
		if !s.operator(c) {
			c.Set(fiber.HeaderWWWAuthenticate, `Basic realm="Stacks operators"`)
			return errs.E(errs.Unauthenticated, "invalid_token", "the queue dashboard needs the operator's ADMIN_TOKEN")
		}
		// The dashboard is a web application: it needs its own scripts and
		// styles, which the API's CSP forbids.
		c.Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline' https://fonts.googleapis.com; font-src 'self' https://fonts.gstatic.com; img-src 'self' data:; frame-ancestors 'none'")
		return dashboard(c)
	}
	var routes []httpx.Route
	for _, m := range []string{"GET", "POST", "DELETE"} {
		routes = append(routes, httpx.Route{Method: m, Path: adminQueuesPath + "/*", Public: true,
			Summary: "Asynq queue dashboard (platform operators, ADMIN_TOKEN)", Handler: h})
	}
	return append(routes, httpx.Route{Method: "GET", Path: adminQueuesPath, Public: true,
		Summary: "Asynq queue dashboard (platform operators, ADMIN_TOKEN)", Handler: h})
}

// operator reports whether the request carries ADMIN_TOKEN.
func (s *Server) operator(c *fiber.Ctx) bool {
	auth := c.Get(fiber.HeaderAuthorization)
	var tok string
	if scheme, rest, ok := strings.Cut(auth, " "); ok && strings.EqualFold(scheme, "Bearer") {
		tok = rest
	} else {
		_, pass, ok := decodeBasic(auth)
		if !ok {
			return false
		}
		tok = pass
	}
	return subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.AdminToken)) == 1
}

// decodeBasic reads an HTTP basic Authorization header.
func decodeBasic(h string) (user, pass string, ok bool) {
	scheme, enc, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return "", "", false
	}
	return strings.Cut(string(raw), ":")
}
