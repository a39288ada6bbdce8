import cf from 'cloudfront';

// CloudFront Function (JavaScript runtime 2.0), viewer request, on every cache behaviour.
//
// Sets the `x-tenant-id` header that Caddy routes on, always overwriting whatever the viewer sent:
// - on a distribution tenant of the cell's multi-tenant distribution, from the tenant's
//   `tenantId` parameter (module `cloudfront`, see the CloudFront Developer Guide,
//   saas-specific-logic-function-code);
// - on a tenant's dedicated distribution, from DEDICATED_TENANT_ID, which the control plane
//   substitutes when it creates that distribution's copy of this function. On a standard
//   distribution the `cloudfront` module has no distribution tenant and throws: caught below.
// With no tenant to name, the request is refused rather than forwarded without one.
//
// The origin-verify secret is not here (cloudfront:GetFunction would show it): CloudFront adds
// it to requests for the ALB origin as an origin custom header.

var DEDICATED_TENANT_ID = '__HOSTPLANE_TENANT_ID__';
var TENANT_ID = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function isTenantId(value) {
  return typeof value === 'string' && TENANT_ID.test(value);
}

function distributionTenantId() {
  try {
    return cf.distributionTenant.parameters.get('tenantId');
    // eslint-disable-next-line @typescript-eslint/no-unused-vars -- a standard distribution: no distribution tenant
  } catch (e) {
    return undefined;
  }
}

// eslint-disable-next-line @typescript-eslint/no-unused-vars -- CloudFront calls `handler` by name
function handler(event) {
  var request = event.request;
  var fromTenant = distributionTenantId();
  var tenantId = isTenantId(fromTenant) ? fromTenant : isTenantId(DEDICATED_TENANT_ID) ? DEDICATED_TENANT_ID : undefined;
  delete request.headers['x-tenant-id'];
  delete request.headers['x-origin-verify'];
  if (tenantId === undefined) {
    return { statusCode: 403, statusDescription: 'Forbidden' };
  }
  request.headers['x-tenant-id'] = { value: tenantId };
  return request;
}
