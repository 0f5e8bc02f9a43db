//! CloudTrail dispatch: LookupEvents over the audit trail (companion spec §7.1).

use coffer_domain::audit::LookupError;
use coffer_domain::secrets::Caller;
use coffer_wire::cloudtrail::model::{audit_request_parameters, audit_response_elements};
use coffer_wire::cloudtrail::{self, Request, convert};
use coffer_wire::errors::AwsError;

use crate::audit::AuditFacts;
use crate::http::AppState;

pub async fn handle(
    state: &AppState,
    request_id: &str,
    caller: &Caller,
    target: &str,
    body: &[u8],
    facts: &mut AuditFacts,
) -> Result<Option<Vec<u8>>, AwsError> {
    let operation = cloudtrail::operation(target)?;
    let request = cloudtrail::decode(operation, body)?;
    facts.request(|| audit_request_parameters(&request), operation.read_only());
    let fail = |e: LookupError| {
        if let LookupError::Internal { cause } = &e {
            tracing::error!(request_id, cause = %cause, "internal error");
        }
        convert::error(&e)
    };
    match request {
        Request::LookupEvents(r) => {
            let input = convert::lookup_events(r)?;
            let out = state
                .lookup
                .lookup_events(caller, input)
                .await
                .map_err(fail)?;
            let response = convert::lookup_events_response(out);
            facts.response(|| audit_response_elements(&response));
            Ok(cloudtrail::encode(operation, &response))
        }
    }
}
