//! The handlers of `terrace.governance.v1.GovernanceService`: each parses its request, applies it
//! and answers, about ten lines an RPC.

use terrace_platform::auth::Caller;
use terrace_platform::service::ServiceContext;
use terrace_platform::validate::{page_response, to_timestamp};
use terrace_proto::governance::v1 as pb;
use terrace_proto::governance::v1::governance_service_server::GovernanceService;
use tonic::{Request, Response, Status};

use crate::audit::{self, Audit};
use crate::divisions::{self, Divisions};

/// Handlers share the service context: the database, the bus and the token verifier.
#[derive(Debug)]
pub struct GovernanceGrpc {
    divisions: Divisions,
    audit: Audit,
}

impl GovernanceGrpc {
    pub fn new(ctx: ServiceContext) -> Self {
        Self {
            divisions: Divisions::new(ctx.db.clone()),
            audit: Audit::new(&ctx),
        }
    }
}

// Methods not written here keep tonic's generated default (`UNIMPLEMENTED`) until their issue.
#[tonic::async_trait]
impl GovernanceService for GovernanceGrpc {
    #[tracing::instrument(skip_all)]
    async fn get_division(
        &self,
        request: Request<pb::GetDivisionRequest>,
    ) -> Result<Response<pb::GetDivisionResponse>, Status> {
        Caller::required(&request)?;
        let code = divisions::parse::DivisionCode::parse(request.get_ref().code.as_ref())?;
        let division = self.divisions.get(&code.0).await?;
        Ok(Response::new(pb::GetDivisionResponse {
            division: Some(division),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_child_divisions(
        &self,
        request: Request<pb::ListChildDivisionsRequest>,
    ) -> Result<Response<pb::ListChildDivisionsResponse>, Status> {
        Caller::required(&request)?;
        let query = divisions::parse::ListChildren::parse(request.into_inner())?;
        let (divisions, next) = self.divisions.children(query).await?;
        Ok(Response::new(pb::ListChildDivisionsResponse {
            divisions,
            page: Some(page_response(next.as_ref())),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_division_ancestors(
        &self,
        request: Request<pb::GetDivisionAncestorsRequest>,
    ) -> Result<Response<pb::GetDivisionAncestorsResponse>, Status> {
        Caller::required(&request)?;
        let code = divisions::parse::DivisionCode::parse(request.get_ref().code.as_ref())?;
        let ancestors = self.divisions.ancestors(&code.0).await?;
        Ok(Response::new(pb::GetDivisionAncestorsResponse {
            ancestors,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn search_divisions(
        &self,
        request: Request<pb::SearchDivisionsRequest>,
    ) -> Result<Response<pb::SearchDivisionsResponse>, Status> {
        Caller::required(&request)?;
        let query = divisions::parse::Search::parse(request.into_inner())?;
        let (divisions, next) = self.divisions.search(query).await?;
        Ok(Response::new(pb::SearchDivisionsResponse {
            divisions,
            page: Some(page_response(next.as_ref())),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_audit_entries(
        &self,
        request: Request<pb::ListAuditEntriesRequest>,
    ) -> Result<Response<pb::ListAuditEntriesResponse>, Status> {
        let caller = Caller::required(&request)?;
        let query = audit::ListAuditEntries::parse(request.into_inner())?;
        let listing = self.audit.list(&caller, query).await?;
        Ok(Response::new(pb::ListAuditEntriesResponse {
            entries: listing
                .entries
                .iter()
                .map(audit::AuditEntry::to_proto)
                .collect(),
            page: Some(page_response(listing.next.as_ref())),
            head_sequence: listing.head.0,
            head_hash: listing.head.1,
            head_time: Some(to_timestamp(listing.read_at)),
        }))
    }
}
