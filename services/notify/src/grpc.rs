//! The handlers of `terrace.notify.v1.NotifyService`: each parses its request, applies it and
//! answers, about ten lines an RPC.

use terrace_platform::auth::Caller;
use terrace_platform::service::ServiceContext;
use terrace_proto::notify::v1 as pb;
use terrace_proto::notify::v1::notify_service_server::NotifyService;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use crate::NotifyState;
use crate::deliveries::{self, Deliveries};
use crate::inbox::watch::Watchers;
use crate::inbox::{self, Inbox};
use crate::preferences::{self, Preferences};
use crate::subscriptions::{self, Subscriptions};
use crate::templates::{self, Templates};

/// Handlers share the service context, the inbox and this replica's streams.
#[derive(Debug)]
pub struct NotifyGrpc {
    ctx: ServiceContext,
    inbox: Inbox,
    deliveries: Deliveries,
    preferences: Preferences,
    subscriptions: Subscriptions,
    templates: Templates,
    watchers: Watchers,
}

impl NotifyGrpc {
    pub fn new(ctx: ServiceContext, state: &NotifyState) -> Self {
        Self {
            inbox: Inbox::new(ctx.db.clone(), ctx.clock.clone()),
            deliveries: Deliveries::new(ctx.db.clone()),
            preferences: Preferences::new(ctx.db.clone(), ctx.clock.clone()),
            subscriptions: Subscriptions::new(ctx.db.clone(), ctx.clock.clone()),
            templates: Templates::new(
                ctx.db.clone(),
                ctx.clock.clone(),
                ctx.event_source(),
                state.sms.signature().to_owned(),
            ),
            watchers: state.watchers.clone(),
            ctx,
        }
    }
}

// Methods not written here keep tonic's generated default (`UNIMPLEMENTED`) until they land.
#[tonic::async_trait]
impl NotifyService for NotifyGrpc {
    #[tracing::instrument(skip_all)]
    async fn list_inbox(
        &self,
        request: Request<pb::ListInboxRequest>,
    ) -> Result<Response<pb::ListInboxResponse>, Status> {
        let caller = Caller::required(&request)?;
        let query = inbox::parse::ListInbox::parse(request.get_ref())?;
        Ok(Response::new(self.inbox.list(&caller, query).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn mark_read(
        &self,
        request: Request<pb::MarkReadRequest>,
    ) -> Result<Response<pb::MarkReadResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = inbox::parse::MarkRead::parse(request.get_ref())?;
        Ok(Response::new(self.inbox.mark_read(&caller, command).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn watch_inbox(
        &self,
        request: Request<pb::WatchInboxRequest>,
    ) -> Result<Response<BoxStream<pb::WatchInboxResponse>>, Status> {
        let caller = Caller::required(&request)?;
        let command = inbox::parse::WatchInbox::parse(request.get_ref())?;
        let stream = self
            .watchers
            .watch(&self.inbox, &caller, command, self.ctx.shutdown.clone())
            .await?;
        Ok(Response::new(Box::pin(stream)))
    }

    #[tracing::instrument(skip_all)]
    async fn list_deliveries(
        &self,
        request: Request<pb::ListDeliveriesRequest>,
    ) -> Result<Response<pb::ListDeliveriesResponse>, Status> {
        let caller = Caller::required(&request)?;
        let query = deliveries::parse::ListDeliveries::parse(request.get_ref())?;
        Ok(Response::new(self.deliveries.list(&caller, query).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn get_delivery(
        &self,
        request: Request<pb::GetDeliveryRequest>,
    ) -> Result<Response<pb::GetDeliveryResponse>, Status> {
        let caller = Caller::required(&request)?;
        let query = deliveries::parse::GetDelivery::parse(request.get_ref())?;
        Ok(Response::new(self.deliveries.get(&caller, query).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn get_preferences(
        &self,
        request: Request<pb::GetPreferencesRequest>,
    ) -> Result<Response<pb::GetPreferencesResponse>, Status> {
        let caller = Caller::required(&request)?;
        Ok(Response::new(self.preferences.get(&caller).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn update_preferences(
        &self,
        request: Request<pb::UpdatePreferencesRequest>,
    ) -> Result<Response<pb::UpdatePreferencesResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = preferences::parse::UpdatePreferences::parse(request.get_ref())?;
        Ok(Response::new(
            self.preferences.update(&caller, command).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn create_subscription(
        &self,
        request: Request<pb::CreateSubscriptionRequest>,
    ) -> Result<Response<pb::CreateSubscriptionResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = subscriptions::parse::CreateSubscription::parse(request.get_ref())?;
        Ok(Response::new(
            self.subscriptions.create(&caller, command).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn list_subscriptions(
        &self,
        request: Request<pb::ListSubscriptionsRequest>,
    ) -> Result<Response<pb::ListSubscriptionsResponse>, Status> {
        let caller = Caller::required(&request)?;
        let query = subscriptions::parse::ListSubscriptions::parse(request.get_ref())?;
        Ok(Response::new(
            self.subscriptions.list(&caller, query).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn delete_subscription(
        &self,
        request: Request<pb::DeleteSubscriptionRequest>,
    ) -> Result<Response<pb::DeleteSubscriptionResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = subscriptions::parse::DeleteSubscription::parse(request.get_ref())?;
        Ok(Response::new(
            self.subscriptions.delete(&caller, command).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn create_template(
        &self,
        request: Request<pb::CreateTemplateRequest>,
    ) -> Result<Response<pb::CreateTemplateResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = templates::parse::CreateTemplate::parse(request.get_ref())?;
        Ok(Response::new(
            self.templates.create(&caller, command).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn get_template(
        &self,
        request: Request<pb::GetTemplateRequest>,
    ) -> Result<Response<pb::GetTemplateResponse>, Status> {
        let caller = Caller::required(&request)?;
        let query = templates::parse::GetTemplate::parse(request.get_ref())?;
        Ok(Response::new(self.templates.get(&caller, query).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn list_templates(
        &self,
        request: Request<pb::ListTemplatesRequest>,
    ) -> Result<Response<pb::ListTemplatesResponse>, Status> {
        let caller = Caller::required(&request)?;
        let query = templates::parse::ListTemplates::parse(request.get_ref())?;
        Ok(Response::new(self.templates.list(&caller, query).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn update_template(
        &self,
        request: Request<pb::UpdateTemplateRequest>,
    ) -> Result<Response<pb::UpdateTemplateResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = templates::parse::UpdateTemplate::parse(request.get_ref())?;
        Ok(Response::new(
            self.templates.update(&caller, command).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn list_template_versions(
        &self,
        request: Request<pb::ListTemplateVersionsRequest>,
    ) -> Result<Response<pb::ListTemplateVersionsResponse>, Status> {
        let caller = Caller::required(&request)?;
        let query = templates::parse::ListTemplateVersions::parse(request.get_ref())?;
        Ok(Response::new(
            self.templates.versions(&caller, query).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn activate_template_version(
        &self,
        request: Request<pb::ActivateTemplateVersionRequest>,
    ) -> Result<Response<pb::ActivateTemplateVersionResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = templates::parse::ActivateTemplateVersion::parse(request.get_ref())?;
        Ok(Response::new(
            self.templates.activate(&caller, command).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn preview_template(
        &self,
        request: Request<pb::PreviewTemplateRequest>,
    ) -> Result<Response<pb::PreviewTemplateResponse>, Status> {
        let caller = Caller::required(&request)?;
        let query = templates::parse::PreviewTemplate::parse(request.get_ref())?;
        Ok(Response::new(self.templates.preview(&caller, query).await?))
    }
}
