package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/access"
	"github.com/go-chi/chi/v5"
)

// routesUsers adds the users and audit routes to the API:
//
//	GET    /users                        the users, their roles and token ids
//	POST   /users                        {"name","role","password"}: add one (password optional)
//	DELETE /users/{user}                 remove one (never the last admin)
//	PUT    /users/{user}/role            {"role"}
//	PUT    /users/{user}/password        {"password"}
//	POST   /users/{user}/tokens          a new API token, shown once
//	DELETE /users/{user}/tokens/{id}     revoke one
//	GET    /audit?mac=&since=&limit=     audit records, newest first
//	GET    /whoami                       the requester's user
//
// Passwords travel in bodies only, and are never logged or echoed.
func (s *server) routesUsers(r chi.Router) {
	get, post, put, del := http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete
	s.act(r, get, "/users", access.ActionUsers, s.listUsers)
	s.act(r, post, "/users", access.ActionUserAdd, s.addUser)
	s.act(r, del, "/users/{user}", access.ActionUserDel, s.removeUser)
	s.act(r, put, "/users/{user}/role", access.ActionUserRole, s.setRole)
	s.act(r, put, "/users/{user}/password", access.ActionUserPass, s.setPassword)
	s.act(r, post, "/users/{user}/tokens", access.ActionTokenAdd, s.newToken)
	s.act(r, del, "/users/{user}/tokens/{id}", access.ActionTokenDel, s.revokeToken)
	s.act(r, get, "/audit", access.ActionAudit, s.auditLog)
	s.act(r, get, "/whoami", access.ActionView, s.whoami)
}

type (
	usersBody struct {
		Users []*access.User `json:"users"`
	}
	userBody struct {
		User *access.User `json:"user"`
	}
	tokenBody struct {
		User  string       `json:"user"`
		Token string       `json:"token"` // the raw token: shown once, never stored
		Info  access.Token `json:"info"`
	}
	auditBody struct {
		Records []access.Record `json:"records"`
	}
)

func (s *server) listUsers(w http.ResponseWriter, r *http.Request) error {
	us, err := s.users.Users(r.Context())
	if err != nil {
		return err
	}
	if us == nil {
		us = []*access.User{}
	}
	s.writeJSON(w, r, http.StatusOK, usersBody{Users: us})
	return nil
}

func (s *server) addUser(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name     string `json:"name"`
		Role     string `json:"role"`
		Password string `json:"password"`
	}
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	auditTarget(r, req.Name)
	role, err := access.ParseRole(req.Role)
	if err != nil {
		return err
	}
	u, err := s.users.AddUser(r.Context(), req.Name, role, req.Password)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusCreated, userBody{User: u})
	return nil
}

func (s *server) removeUser(w http.ResponseWriter, r *http.Request) error {
	if err := s.users.RemoveUser(r.Context(), chi.URLParam(r, "user")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) setRole(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Role string `json:"role"`
	}
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	role, err := access.ParseRole(req.Role)
	if err != nil {
		return err
	}
	return s.writeUser(w, r, s.users.SetRole(r.Context(), chi.URLParam(r, "user"), role))
}

func (s *server) setPassword(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Password string `json:"password"`
	}
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	return s.writeUser(w, r, s.users.SetPassword(r.Context(), chi.URLParam(r, "user"), req.Password))
}

func (s *server) writeUser(w http.ResponseWriter, r *http.Request, err error) error {
	if err != nil {
		return err
	}
	u, err := s.users.User(r.Context(), chi.URLParam(r, "user"))
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, userBody{User: u})
	return nil
}

func (s *server) newToken(w http.ResponseWriter, r *http.Request) error {
	name := chi.URLParam(r, "user")
	raw, t, err := s.users.NewToken(r.Context(), name)
	if err != nil {
		return err
	}
	auditTarget(r, name+" token "+t.ID)
	s.writeJSON(w, r, http.StatusCreated, tokenBody{User: name, Token: raw, Info: t})
	return nil
}

func (s *server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	name, id := chi.URLParam(r, "user"), chi.URLParam(r, "id")
	auditTarget(r, name+" token "+id)
	if err := s.users.RevokeToken(r.Context(), name, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// auditFilter reads mac=, since= (a duration back from now, e.g. 24h, or
// an RFC 3339 time) and limit= (default 100, at most 10000).
func auditFilter(r *http.Request, now time.Time) (access.Filter, error) {
	q := r.URL.Query()
	f := access.Filter{Limit: 100}
	if v := q.Get("mac"); v != "" {
		mac, err := boot.ParseMAC(v)
		if err != nil {
			return f, err
		}
		f.MAC = mac
	}
	if v := q.Get("since"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			f.Since = now.Add(-d)
		} else if t, err := time.Parse(time.RFC3339, v); err == nil {
			f.Since = t
		} else {
			return f, badRequest("since=%q: want a duration such as 24h or an RFC 3339 time", v)
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return f, badRequest("limit=%q: want 1 to 10000", v)
		}
		f.Limit = n
	}
	return f, nil
}

func (s *server) auditLog(w http.ResponseWriter, r *http.Request) error {
	f, err := auditFilter(r, time.Now())
	if err != nil {
		return err
	}
	recs, err := s.audit.Query(r.Context(), f)
	if err != nil {
		return err
	}
	if recs == nil {
		recs = []access.Record{}
	}
	s.writeJSON(w, r, http.StatusOK, auditBody{Records: recs})
	return nil
}

func (s *server) whoami(w http.ResponseWriter, r *http.Request) error {
	p, _ := principalOf(r)
	s.writeJSON(w, r, http.StatusOK, userBody{User: p.user})
	return nil
}
