// CloudFront Function (JavaScript runtime 2.0), viewer response, on every cache behaviour.
//
// Adds the security headers every tenant's front gets, replacing any the origin sent. The
// Content-Security-Policy fits the generated front end (lambdas/codegen/templates/frontend.ts):
// one same-origin stylesheet and module script, no inline code or style, `fetch` to its own
// `api/`, no external URL.

var SECURITY_HEADERS = {
  'strict-transport-security': 'max-age=63072000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'strict-origin-when-cross-origin',
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
  'cross-origin-opener-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
};

// eslint-disable-next-line @typescript-eslint/no-unused-vars -- CloudFront calls `handler` by name
function handler(event) {
  var response = event.response;
  var names = Object.keys(SECURITY_HEADERS);
  for (var i = 0; i < names.length; i++) {
    response.headers[names[i]] = { value: SECURITY_HEADERS[names[i]] };
  }
  return response;
}
