package access

import "errors"

// Errors of this package; callers test them with errors.Is. Their messages
// never contain a password or a token.
var (
	// ErrUnauthenticated reports a wrong password, an unknown user at login,
	// or a token that is malformed, unknown or revoked. It does not say
	// which, on purpose.
	ErrUnauthenticated = errors.New("access: wrong user name, password or token")
	// ErrForbidden reports that a user's role does not allow an action.
	ErrForbidden = errors.New("access: not allowed")
	// ErrUnknownUser reports that no user has the name.
	ErrUnknownUser = errors.New("access: unknown user")
	// ErrUnknownToken reports that a user has no token with the id.
	ErrUnknownToken = errors.New("access: unknown token")
	// ErrExists reports that a user with the name exists already.
	ErrExists = errors.New("access: user exists")
	// ErrLastAdmin reports a change that would leave no admin.
	ErrLastAdmin = errors.New("access: the last admin cannot be removed or demoted")
	// ErrInvalid reports a bad name, role or password.
	ErrInvalid = errors.New("access: invalid")
)
