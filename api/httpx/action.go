package httpx

import (
	"context"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
)

// Body says whether an action's JSON body must be sent.
type Body bool

// Body requirements.
const (
	BodyRequired Body = true
	BodyOptional Body = false // an empty body is the zero input
)

// Action builds the handler of a route whose work is one service call on
// its JSON body: bind (400 on bad JSON), call, answer status with the
// result. Most write routes are this and nothing else.
func Action[In, Out any](status int, body Body, fn func(ctx context.Context, in In) (Out, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var in In
		if body == BodyRequired || len(c.Body()) > 0 {
			if err := Bind(c, &in); err != nil {
				return err
			}
		}
		out, err := fn(c.UserContext(), in)
		if err != nil {
			return err
		}
		return c.Status(status).JSON(out)
	}
}

// IDAction is Action for a route on one resource, ":id" in its path (a
// malformed id is a 404 naming what).
func IDAction[In, Out any](what string, status int, body Body, fn func(ctx context.Context, id uuid.UUID, in In) (Out, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := ParamUUID(c, "id", what)
		if err != nil {
			return err
		}
		return Action(status, body, func(ctx context.Context, in In) (Out, error) { return fn(ctx, id, in) })(c)
	}
}

// IDGet is the handler of "GET .../:id": load and answer 200.
func IDGet[Out any](what string, fn func(ctx context.Context, id uuid.UUID) (Out, error)) fiber.Handler {
	return IDAction(what, fiber.StatusOK, BodyOptional, func(ctx context.Context, id uuid.UUID, _ struct{}) (Out, error) {
		return fn(ctx, id)
	})
}

// KeyAction is Action for a route on a resource named by a text key in its
// path (":code", ":kind").
func KeyAction[In, Out any](param string, status int, body Body, fn func(ctx context.Context, key string, in In) (Out, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		key := strings.Clone(c.Params(param)) // Fiber reuses the request's memory

		return Action(status, body, func(ctx context.Context, in In) (Out, error) { return fn(ctx, key, in) })(c)
	}
}
