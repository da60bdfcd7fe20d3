package ui

import (
	"html/template"
	"net/url"
)

// pageLink is the address of local page path with query q, for an href:
// each value is escaped once, by url.Values.Encode, and the result is a
// template.URL so that html/template does not escape it again (a query
// string put after "?" in a template is escaped whole: "before=7" became
// "before%3d7", and every "Older …" link showed the first page again).
// path is a fixed local path chosen by the handler, never user input.
func pageLink(path string, q url.Values) template.URL {
	if len(q) == 0 {
		return template.URL(path)
	}
	return template.URL(path + "?" + q.Encode())
}

// nextPageLink is the link to the page after this one: the query q of
// this page (its filters) with key set to the cursor value, and without
// the one-time flash message.
func nextPageLink(path string, q url.Values, key, value string) template.URL {
	next := url.Values{}
	for k, v := range q {
		next[k] = append([]string(nil), v...)
	}
	next.Del("msg")
	next.Set(key, value)
	return pageLink(path, next)
}
