//! The handlers of `terrace.governance.v1.GovernanceService`: each parses its request, applies it
//! and answers, about ten lines an RPC.

use terrace_platform::auth::Caller;
use terrace_platform::service::ServiceContext;
use terrace_platform::validate::{page_response, to_timestamp};
use terrace_proto::governance::v1 as pb;
use terrace_proto::governance::v1::governance_service_server::GovernanceService;
use tonic::{Request, Response, Status};

use crate::GovernanceState;
use crate::audit::{self, Audit};
use crate::divisions::{self, Divisions};
use crate::register::{self, Register, claims};
use crate::request_settings::{self, RequestSettings};
use crate::request_types::{self, RequestTypes};
use crate::requests::{self, Requests};

/// Handlers share the service context: the database, the bus and the token verifier.
#[derive(Debug)]
pub struct GovernanceGrpc {
    divisions: Divisions,
    register: Register,
    request_types: RequestTypes,
    request_settings: RequestSettings,
    requests: Requests,
    audit: Audit,
}

impl GovernanceGrpc {
    pub fn new(ctx: ServiceContext, state: &GovernanceState) -> Self {
        Self {
            divisions: Divisions::new(ctx.db.clone(), state.division_index.clone()),
            register: Register::new(
                ctx.db.clone(),
                ctx.event_source(),
                ctx.clock.clone(),
                state.sealer.clone(),
            ),
            request_types: RequestTypes::new(ctx.db.clone(), ctx.event_source(), ctx.clock.clone()),
            request_settings: RequestSettings::new(ctx.db.clone(), ctx.clock.clone()),
            requests: Requests::new(
                ctx.db.clone(),
                ctx.event_source(),
                ctx.clock.clone(),
                state.photos.clone(),
            ),
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
    async fn create_household(
        &self,
        request: Request<pb::CreateHouseholdRequest>,
    ) -> Result<Response<pb::CreateHouseholdResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = register::parse::CreateHousehold::parse(request.into_inner())?;
        let household = self.register.create_household(&caller, command).await?;
        Ok(Response::new(pb::CreateHouseholdResponse {
            household: Some(household),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_household(
        &self,
        request: Request<pb::GetHouseholdRequest>,
    ) -> Result<Response<pb::GetHouseholdResponse>, Status> {
        let caller = Caller::required(&request)?;
        let id =
            register::parse::one_id("household_id", &request.get_ref().household_id, "household")?;
        Ok(Response::new(
            self.register.get_household(&caller, id).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn list_households(
        &self,
        request: Request<pb::ListHouseholdsRequest>,
    ) -> Result<Response<pb::ListHouseholdsResponse>, Status> {
        let caller = Caller::required(&request)?;
        let query = register::parse::ListHouseholds::parse(request.into_inner())?;
        let (households, next) = self.register.list_households(&caller, query).await?;
        Ok(Response::new(pb::ListHouseholdsResponse {
            households,
            page: Some(page_response(next.as_ref())),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn update_household(
        &self,
        request: Request<pb::UpdateHouseholdRequest>,
    ) -> Result<Response<pb::UpdateHouseholdResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = register::parse::UpdateHousehold::parse(request.into_inner())?;
        let household = self.register.update_household(&caller, command).await?;
        Ok(Response::new(pb::UpdateHouseholdResponse {
            household: Some(household),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn create_resident(
        &self,
        request: Request<pb::CreateResidentRequest>,
    ) -> Result<Response<pb::CreateResidentResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command =
            register::parse::CreateResident::parse(request.into_inner(), self.register.today())?;
        let resident = self.register.create_resident(&caller, command).await?;
        Ok(Response::new(pb::CreateResidentResponse {
            resident: Some(resident),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_resident(
        &self,
        request: Request<pb::GetResidentRequest>,
    ) -> Result<Response<pb::GetResidentResponse>, Status> {
        let caller = Caller::required(&request)?;
        let id =
            register::parse::one_id("resident_id", &request.get_ref().resident_id, "resident")?;
        let resident = self.register.get_resident(&caller, id).await?;
        Ok(Response::new(pb::GetResidentResponse {
            resident: Some(resident),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_residents(
        &self,
        request: Request<pb::ListResidentsRequest>,
    ) -> Result<Response<pb::ListResidentsResponse>, Status> {
        let caller = Caller::required(&request)?;
        let query = register::parse::ListResidents::parse(request.into_inner())?;
        let (residents, next) = self.register.list_residents(&caller, query).await?;
        Ok(Response::new(pb::ListResidentsResponse {
            residents,
            page: Some(page_response(next.as_ref())),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn update_resident(
        &self,
        request: Request<pb::UpdateResidentRequest>,
    ) -> Result<Response<pb::UpdateResidentResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command =
            register::parse::UpdateResident::parse(request.into_inner(), self.register.today())?;
        let resident = self.register.update_resident(&caller, command).await?;
        Ok(Response::new(pb::UpdateResidentResponse {
            resident: Some(resident),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn reveal_resident_national_id(
        &self,
        request: Request<pb::RevealResidentNationalIdRequest>,
    ) -> Result<Response<pb::RevealResidentNationalIdResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = register::parse::Reveal::parse(request.into_inner())?;
        Ok(Response::new(self.register.reveal(&caller, command).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn list_resident_access_log(
        &self,
        request: Request<pb::ListResidentAccessLogRequest>,
    ) -> Result<Response<pb::ListResidentAccessLogResponse>, Status> {
        let caller = Caller::required(&request)?;
        let query = register::parse::ListAccessLog::parse(request.into_inner())?;
        let (entries, next) = self.register.access_log(&caller, query).await?;
        Ok(Response::new(pb::ListResidentAccessLogResponse {
            entries,
            page: Some(page_response(next.as_ref())),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_my_resident(
        &self,
        request: Request<pb::GetMyResidentRequest>,
    ) -> Result<Response<pb::GetMyResidentResponse>, Status> {
        let caller = Caller::required(&request)?;
        Ok(Response::new(self.register.mine(&caller).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn erase_resident(
        &self,
        request: Request<pb::EraseResidentRequest>,
    ) -> Result<Response<pb::EraseResidentResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = register::parse::Erase::parse(request.into_inner())?;
        self.register.erase(&caller, command).await?;
        Ok(Response::new(pb::EraseResidentResponse {}))
    }

    #[tracing::instrument(skip_all)]
    async fn request_resident_claim(
        &self,
        request: Request<pb::RequestResidentClaimRequest>,
    ) -> Result<Response<pb::RequestResidentClaimResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command =
            claims::parse::RequestClaim::parse(request.into_inner(), self.register.today())?;
        let claim = self.register.request_claim(&caller, command).await?;
        Ok(Response::new(pb::RequestResidentClaimResponse {
            claim: Some(claim),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn verify_resident_claim(
        &self,
        request: Request<pb::VerifyResidentClaimRequest>,
    ) -> Result<Response<pb::VerifyResidentClaimResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = claims::parse::VerifyClaim::parse(request.into_inner())?;
        let claim = self.register.verify_claim(&caller, command).await?;
        Ok(Response::new(pb::VerifyResidentClaimResponse {
            claim: Some(claim),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_resident_claims(
        &self,
        request: Request<pb::ListResidentClaimsRequest>,
    ) -> Result<Response<pb::ListResidentClaimsResponse>, Status> {
        let caller = Caller::required(&request)?;
        let query = claims::parse::ListClaims::parse(request.into_inner())?;
        let (claims, next) = self.register.list_claims(&caller, query).await?;
        Ok(Response::new(pb::ListResidentClaimsResponse {
            claims,
            page: Some(page_response(next.as_ref())),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn decide_resident_claim(
        &self,
        request: Request<pb::DecideResidentClaimRequest>,
    ) -> Result<Response<pb::DecideResidentClaimResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = claims::parse::DecideClaim::parse(request.into_inner())?;
        let claim = self.register.decide_claim(&caller, command).await?;
        Ok(Response::new(pb::DecideResidentClaimResponse {
            claim: Some(claim),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn download_my_data(
        &self,
        request: Request<pb::DownloadMyDataRequest>,
    ) -> Result<Response<pb::DownloadMyDataResponse>, Status> {
        let caller = Caller::required(&request)?;
        let mutation = register::parse::export(request.get_ref())?;
        Ok(Response::new(
            self.register.export(&caller, mutation).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn get_register_counts(
        &self,
        request: Request<pb::GetRegisterCountsRequest>,
    ) -> Result<Response<pb::GetRegisterCountsResponse>, Status> {
        let caller = Caller::required(&request)?;
        let area = register::parse::counts(request.get_ref())?;
        Ok(Response::new(self.register.counts(&caller, &area).await?))
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

    #[tracing::instrument(skip_all)]
    async fn create_request_type(
        &self,
        request: Request<pb::CreateRequestTypeRequest>,
    ) -> Result<Response<pb::CreateRequestTypeResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = request_types::parse::CreateRequestType::parse(request.into_inner())?;
        Ok(Response::new(
            self.request_types.create(&caller, command).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn get_request_type(
        &self,
        request: Request<pb::GetRequestTypeRequest>,
    ) -> Result<Response<pb::GetRequestTypeResponse>, Status> {
        Caller::required(&request)?;
        let id = register::parse::one_id(
            "request_type_id",
            &request.get_ref().request_type_id,
            "request type",
        )?;
        let request_type = self.request_types.get(id).await?;
        Ok(Response::new(pb::GetRequestTypeResponse {
            request_type: Some(request_type),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_request_types(
        &self,
        request: Request<pb::ListRequestTypesRequest>,
    ) -> Result<Response<pb::ListRequestTypesResponse>, Status> {
        Caller::required(&request)?;
        let query = request_types::parse::ListRequestTypes::parse(request.into_inner())?;
        Ok(Response::new(self.request_types.list(query).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn update_request_type(
        &self,
        request: Request<pb::UpdateRequestTypeRequest>,
    ) -> Result<Response<pb::UpdateRequestTypeResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = request_types::parse::UpdateRequestType::parse(request.into_inner())?;
        Ok(Response::new(
            self.request_types.update(&caller, command).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn get_request_area_settings(
        &self,
        request: Request<pb::GetRequestAreaSettingsRequest>,
    ) -> Result<Response<pb::GetRequestAreaSettingsResponse>, Status> {
        Caller::required(&request)?;
        let area = request_settings::parse::area(request.get_ref().area.as_ref())?;
        Ok(Response::new(self.request_settings.get(&area).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn update_request_area_settings(
        &self,
        request: Request<pb::UpdateRequestAreaSettingsRequest>,
    ) -> Result<Response<pb::UpdateRequestAreaSettingsResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = request_settings::parse::UpdateAreaSettings::parse(request.into_inner())?;
        Ok(Response::new(
            self.request_settings.update(&caller, command).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn list_working_calendar_days(
        &self,
        request: Request<pb::ListWorkingCalendarDaysRequest>,
    ) -> Result<Response<pb::ListWorkingCalendarDaysResponse>, Status> {
        Caller::required(&request)?;
        let query = request_settings::parse::ListCalendarDays::parse(request.into_inner())?;
        Ok(Response::new(self.request_settings.list_days(query).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn set_working_calendar_days(
        &self,
        request: Request<pb::SetWorkingCalendarDaysRequest>,
    ) -> Result<Response<pb::SetWorkingCalendarDaysResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = request_settings::parse::SetCalendarDays::parse(request.into_inner())?;
        Ok(Response::new(
            self.request_settings.set_days(&caller, command).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn create_service_request(
        &self,
        request: Request<pb::CreateServiceRequestRequest>,
    ) -> Result<Response<pb::CreateServiceRequestResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = requests::parse::CreateServiceRequest::parse(request.into_inner())?;
        Ok(Response::new(self.requests.create(&caller, command).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn get_service_request(
        &self,
        request: Request<pb::GetServiceRequestRequest>,
    ) -> Result<Response<pb::GetServiceRequestResponse>, Status> {
        let caller = Caller::required(&request)?;
        let id = register::parse::one_id(
            "service_request_id",
            &request.get_ref().service_request_id,
            "service request",
        )?;
        Ok(Response::new(self.requests.get(&caller, id).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn list_service_requests(
        &self,
        request: Request<pb::ListServiceRequestsRequest>,
    ) -> Result<Response<pb::ListServiceRequestsResponse>, Status> {
        let caller = Caller::required(&request)?;
        let query = requests::parse::ListServiceRequests::parse(request.into_inner())?;
        Ok(Response::new(self.requests.list(&caller, query).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn change_service_request_status(
        &self,
        request: Request<pb::ChangeServiceRequestStatusRequest>,
    ) -> Result<Response<pb::ChangeServiceRequestStatusResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = requests::parse::ChangeStatus::parse(request.into_inner())?;
        Ok(Response::new(
            self.requests.change_status(&caller, command).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn add_service_request_note(
        &self,
        request: Request<pb::AddServiceRequestNoteRequest>,
    ) -> Result<Response<pb::AddServiceRequestNoteResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = requests::parse::AddNote::parse(request.into_inner())?;
        Ok(Response::new(
            self.requests.add_note(&caller, command).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn list_service_request_timeline(
        &self,
        request: Request<pb::ListServiceRequestTimelineRequest>,
    ) -> Result<Response<pb::ListServiceRequestTimelineResponse>, Status> {
        let caller = Caller::required(&request)?;
        let query = requests::parse::ListTimeline::parse(request.into_inner())?;
        Ok(Response::new(self.requests.timeline(&caller, query).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn upload_photo(
        &self,
        request: Request<pb::UploadPhotoRequest>,
    ) -> Result<Response<pb::UploadPhotoResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = requests::parse::UploadPhoto::parse(request.into_inner())?;
        let photo = self.requests.upload_photo(&caller, command).await?;
        Ok(Response::new(pb::UploadPhotoResponse {
            photo: Some(photo),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn escalate_service_request(
        &self,
        request: Request<pb::EscalateServiceRequestRequest>,
    ) -> Result<Response<pb::EscalateServiceRequestResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = requests::parse::Escalate::parse(request.into_inner())?;
        Ok(Response::new(
            self.requests.escalate(&caller, command).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn rate_service_request(
        &self,
        request: Request<pb::RateServiceRequestRequest>,
    ) -> Result<Response<pb::RateServiceRequestResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = requests::parse::Rate::parse(request.into_inner())?;
        Ok(Response::new(self.requests.rate(&caller, command).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn reopen_service_request(
        &self,
        request: Request<pb::ReopenServiceRequestRequest>,
    ) -> Result<Response<pb::ReopenServiceRequestResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = requests::parse::Reopen::parse(request.into_inner())?;
        Ok(Response::new(self.requests.reopen(&caller, command).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn list_duplicate_candidates(
        &self,
        request: Request<pb::ListDuplicateCandidatesRequest>,
    ) -> Result<Response<pb::ListDuplicateCandidatesResponse>, Status> {
        let caller = Caller::required(&request)?;
        let query = requests::parse::ListDuplicates::parse(request.into_inner())?;
        Ok(Response::new(
            self.requests.duplicates(&caller, query).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn merge_service_requests(
        &self,
        request: Request<pb::MergeServiceRequestsRequest>,
    ) -> Result<Response<pb::MergeServiceRequestsResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = requests::parse::Merge::parse(request.into_inner())?;
        Ok(Response::new(self.requests.merge(&caller, command).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn update_service_request(
        &self,
        request: Request<pb::UpdateServiceRequestRequest>,
    ) -> Result<Response<pb::UpdateServiceRequestResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = requests::parse::UpdateRequest::parse(request.into_inner())?;
        Ok(Response::new(self.requests.update(&caller, command).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn assign_service_request(
        &self,
        request: Request<pb::AssignServiceRequestRequest>,
    ) -> Result<Response<pb::AssignServiceRequestResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = requests::parse::Assign::parse(request.into_inner())?;
        Ok(Response::new(self.requests.assign(&caller, command).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn get_service_request_stats(
        &self,
        request: Request<pb::GetServiceRequestStatsRequest>,
    ) -> Result<Response<pb::GetServiceRequestStatsResponse>, Status> {
        let caller = Caller::required(&request)?;
        let query = requests::parse::stats(request.into_inner())?;
        Ok(Response::new(self.requests.stats(&caller, query).await?))
    }
}
