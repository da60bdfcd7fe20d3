// Package apperr defines coded errors whose messages are safe to show to a
// caller. Anything else that reaches the edge is reported as an internal
// error with only a request id, never err.Error().
package apperr

import (
	"errors"
	"fmt"
)

// Code classifies an error for the caller.
type Code string

// The codes Ward uses.
const (
	Invalid      Code = "invalid"      // the request is malformed or breaks a rule (422)
	NotFound     Code = "not_found"    // no such object visible to the caller (404)
	Conflict     Code = "conflict"     // the object's current state forbids the change (409)
	Unauthorized Code = "unauthorized" // no valid credentials (401)
	Forbidden    Code = "forbidden"    // credentials lack the permission (403)
	TooSoon      Code = "too_soon"     // asked again before the caller may (429)
	Internal     Code = "internal"     // anything else (500)
)

// FieldError names one field and what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is a coded error with a message safe to show.
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
	Err     error // the cause, for logs only
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an Error with a formatted safe message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Field returns an Invalid error that names the offending field.
func Field(field, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Code: Invalid, Message: field + ": " + msg, Fields: []FieldError{{Field: field, Message: msg}}}
}

// CodeOf returns the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// As returns the first *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
