package aws

import (
	"errors"
	"fmt"
	"slices"

	"github.com/aws/smithy-go"

	"github.com/alexpermiakov/idp/internal/fail"
)

// deniedCodes are the codes AWS answers with when the credentials in use may not do something
// or are not valid at all. Only a person fixes those, so they must not retry. "Forbidden" is
// what S3 says to a HEAD request, which carries no error body.
var deniedCodes = []string{
	"AccessDenied", "AccessDeniedException", "Forbidden", "UnauthorizedOperation",
	"InvalidClientTokenId", "UnrecognizedClientException", "InvalidAccessKeyId",
	"SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException",
}

// deniedHint says what to fix after AWS's own message, which names the action and the
// principal.
const deniedHint = "idp's credentials for this account may not do this: allow the action in the policy of the role " +
	"environments[].aws.assumeRole names in idp.yaml (of the worker's own credentials when it names none), then start again"

// classify wraps err with what was being done. Access problems become non-retryable
// fail.AccessDenied errors that keep AWS's message and say what to fix; everything else
// stays retryable.
func classify(err error, format string, args ...any) error {
	if slices.Contains(deniedCodes, apiCode(err)) {
		return fail.Wrap(fail.AccessDenied, fmt.Errorf("%w (%s)", err, deniedHint), format, args...)
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// isErr reports whether err is, or wraps, an error of type T: one of the SDK's modeled errors.
func isErr[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

// apiCode is the code of the AWS API error in err's chain, or "" when there is none. The SDK
// models only some errors as types; the others (and the modeled ones too) still carry their
// code, which is how those are told apart.
func apiCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}
