//! The handlers of `terrace.market.v1.MarketService`: each parses its request, applies it and
//! answers, about ten lines an RPC.

use terrace_platform::auth::Caller;
use terrace_platform::service::ServiceContext;
use terrace_proto::market::v1 as pb;
use terrace_proto::market::v1::market_service_server::MarketService;
use tonic::{Request, Response, Status};

use crate::MarketState;
use crate::categories;
use crate::listings::{self, Listings};
use crate::orders::{self, Orders, parse::OrderStep};

/// Handlers share the service context: the database, the bus and the token verifier.
#[derive(Debug)]
pub struct MarketGrpc {
    ctx: ServiceContext,
    listings: Listings,
    orders: Orders,
    search: crate::search::feed::Feed,
    prices: crate::prices::Prices,
}

impl MarketGrpc {
    pub fn new(ctx: ServiceContext, state: &MarketState) -> Self {
        let listings = Listings::new(
            ctx.db.clone(),
            ctx.event_source(),
            ctx.clock.clone(),
            state.photos.clone(),
        );
        let orders = Orders::new(
            ctx.db.clone(),
            ctx.event_source(),
            ctx.clock.clone(),
            listings.clone(),
        );
        Self {
            prices: crate::prices::Prices::new(ctx.db.clone(), ctx.clock.clone()),
            ctx,
            listings,
            orders,
            search: state.search.clone(),
        }
    }
}

impl MarketGrpc {
    /// The exchange rate of `currency`, when one was asked for and operators keep it.
    async fn rate(
        &self,
        currency: Option<&str>,
    ) -> terrace_platform::error::Result<Option<crate::rates::Rate>> {
        match currency {
            Some(code) => Ok(crate::rates::find(&self.ctx.db, code).await?),
            None => Ok(None),
        }
    }
}

// Methods not written here keep tonic's generated default (`UNIMPLEMENTED`) until they land.
#[tonic::async_trait]
impl MarketService for MarketGrpc {
    #[tracing::instrument(skip_all)]
    async fn list_categories(
        &self,
        request: Request<pb::ListCategoriesRequest>,
    ) -> Result<Response<pb::ListCategoriesResponse>, Status> {
        Caller::required(&request)?;
        let query = categories::parse::ListCategories::parse(request.get_ref())?;
        Ok(Response::new(categories::list(&query)))
    }

    #[tracing::instrument(skip_all)]
    async fn get_category(
        &self,
        request: Request<pb::GetCategoryRequest>,
    ) -> Result<Response<pb::GetCategoryResponse>, Status> {
        Caller::required(&request)?;
        let category = categories::get(&request.get_ref().category_id)?;
        Ok(Response::new(pb::GetCategoryResponse {
            category: Some(category),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn upload_photo(
        &self,
        request: Request<pb::UploadPhotoRequest>,
    ) -> Result<Response<pb::UploadPhotoResponse>, Status> {
        let caller = Caller::required(&request)?;
        let terrace_photos::UploadCommand { request_id, upload } =
            listings::parse::UploadPhoto::parse(request.into_inner())?;
        let photo = self
            .listings
            .upload_photo(&caller, request_id, upload)
            .await?;
        Ok(Response::new(pb::UploadPhotoResponse {
            photo: Some(photo),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn create_listing(
        &self,
        request: Request<pb::CreateListingRequest>,
    ) -> Result<Response<pb::CreateListingResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command =
            listings::parse::CreateListing::parse(request.get_ref(), self.ctx.clock.now())?;
        Ok(Response::new(self.listings.create(&caller, command).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn get_listing(
        &self,
        request: Request<pb::GetListingRequest>,
    ) -> Result<Response<pb::GetListingResponse>, Status> {
        let caller = Caller::required(&request)?;
        let request = request.get_ref();
        let id = listings::parse::listing_id(&request.listing_id)?;
        let currency = crate::search::parse::display_currency(&request.display_currency)?;
        let listing = self.listings.get(&caller, id).await?;
        let rate = self.rate(currency.as_deref()).await?;
        Ok(Response::new(pb::GetListingResponse {
            indicative_price: rate.and_then(|rate| crate::rates::indicative(&listing, &rate)),
            listing: Some(listing),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_listings(
        &self,
        request: Request<pb::ListListingsRequest>,
    ) -> Result<Response<pb::ListListingsResponse>, Status> {
        let caller = Caller::required(&request)?;
        let query = listings::parse::ListListings::parse(request.get_ref())?;
        Ok(Response::new(self.listings.list(&caller, query).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn update_listing(
        &self,
        request: Request<pb::UpdateListingRequest>,
    ) -> Result<Response<pb::UpdateListingResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = listings::parse::UpdateListing::parse(request.into_inner())?;
        Ok(Response::new(self.listings.update(&caller, command).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn publish_listing(
        &self,
        request: Request<pb::PublishListingRequest>,
    ) -> Result<Response<pb::PublishListingResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command =
            listings::parse::Transition::publish(request.get_ref(), self.ctx.clock.now())?;
        let listing = self.listings.transition(&caller, command).await?;
        Ok(Response::new(pb::PublishListingResponse {
            listing: Some(listing),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn pause_listing(
        &self,
        request: Request<pb::PauseListingRequest>,
    ) -> Result<Response<pb::PauseListingResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = listings::parse::Transition::pause(request.get_ref(), self.ctx.clock.now())?;
        let listing = self.listings.transition(&caller, command).await?;
        Ok(Response::new(pb::PauseListingResponse {
            listing: Some(listing),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn close_listing(
        &self,
        request: Request<pb::CloseListingRequest>,
    ) -> Result<Response<pb::CloseListingResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = listings::parse::Transition::close(request.get_ref(), self.ctx.clock.now())?;
        let listing = self.listings.transition(&caller, command).await?;
        Ok(Response::new(pb::CloseListingResponse {
            listing: Some(listing),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn hide_listing(
        &self,
        request: Request<pb::HideListingRequest>,
    ) -> Result<Response<pb::HideListingResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = listings::parse::HideChange::hide(request.get_ref())?;
        let listing = self.listings.hide(&caller, command).await?;
        Ok(Response::new(pb::HideListingResponse {
            listing: Some(listing),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn unhide_listing(
        &self,
        request: Request<pb::UnhideListingRequest>,
    ) -> Result<Response<pb::UnhideListingResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = listings::parse::HideChange::unhide(request.get_ref())?;
        let listing = self.listings.hide(&caller, command).await?;
        Ok(Response::new(pb::UnhideListingResponse {
            listing: Some(listing),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn place_order(
        &self,
        request: Request<pb::PlaceOrderRequest>,
    ) -> Result<Response<pb::PlaceOrderResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = orders::parse::PlaceOrder::parse(request.get_ref())?;
        Ok(Response::new(self.orders.place(&caller, command).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn get_order(
        &self,
        request: Request<pb::GetOrderRequest>,
    ) -> Result<Response<pb::GetOrderResponse>, Status> {
        let caller = Caller::required(&request)?;
        let id = orders::parse::order_id(&request.get_ref().order_id)?;
        let order = self.orders.get(&caller, id).await?;
        Ok(Response::new(pb::GetOrderResponse { order: Some(order) }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_orders(
        &self,
        request: Request<pb::ListOrdersRequest>,
    ) -> Result<Response<pb::ListOrdersResponse>, Status> {
        let caller = Caller::required(&request)?;
        let query = orders::parse::ListOrders::parse(request.get_ref())?;
        Ok(Response::new(self.orders.list(&caller, query).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn accept_order(
        &self,
        request: Request<pb::AcceptOrderRequest>,
    ) -> Result<Response<pb::AcceptOrderResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = OrderStep::accept(request.get_ref())?;
        let order = self.orders.step(&caller, command).await?;
        Ok(Response::new(pb::AcceptOrderResponse {
            order: Some(order),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn decline_order(
        &self,
        request: Request<pb::DeclineOrderRequest>,
    ) -> Result<Response<pb::DeclineOrderResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = OrderStep::decline(request.get_ref())?;
        let order = self.orders.step(&caller, command).await?;
        Ok(Response::new(pb::DeclineOrderResponse {
            order: Some(order),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn cancel_order(
        &self,
        request: Request<pb::CancelOrderRequest>,
    ) -> Result<Response<pb::CancelOrderResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = OrderStep::cancel(request.get_ref())?;
        let order = self.orders.step(&caller, command).await?;
        Ok(Response::new(pb::CancelOrderResponse {
            order: Some(order),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn mark_order_shipped(
        &self,
        request: Request<pb::MarkOrderShippedRequest>,
    ) -> Result<Response<pb::MarkOrderShippedResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = OrderStep::ship(request.get_ref())?;
        let order = self.orders.step(&caller, command).await?;
        Ok(Response::new(pb::MarkOrderShippedResponse {
            order: Some(order),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn mark_order_picked_up(
        &self,
        request: Request<pb::MarkOrderPickedUpRequest>,
    ) -> Result<Response<pb::MarkOrderPickedUpResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = OrderStep::pick_up(request.get_ref())?;
        let order = self.orders.step(&caller, command).await?;
        Ok(Response::new(pb::MarkOrderPickedUpResponse {
            order: Some(order),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn record_no_show(
        &self,
        request: Request<pb::RecordNoShowRequest>,
    ) -> Result<Response<pb::RecordNoShowResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = OrderStep::no_show(request.get_ref())?;
        let order = self.orders.step(&caller, command).await?;
        Ok(Response::new(pb::RecordNoShowResponse {
            order: Some(order),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn complete_order(
        &self,
        request: Request<pb::CompleteOrderRequest>,
    ) -> Result<Response<pb::CompleteOrderResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = OrderStep::complete(request.get_ref())?;
        let order = self.orders.step(&caller, command).await?;
        Ok(Response::new(pb::CompleteOrderResponse {
            order: Some(order),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn search_listings(
        &self,
        request: Request<pb::SearchListingsRequest>,
    ) -> Result<Response<pb::SearchListingsResponse>, Status> {
        Caller::required(&request)?;
        let command = crate::search::parse::SearchListings::parse(request.get_ref())?;
        let rate = self.rate(command.display_currency.as_deref()).await?;
        let mut found = crate::search::search(&self.search, &command, rate.as_ref())?;
        crate::search::name_areas(&self.ctx.db, &mut found).await?;
        Ok(Response::new(found))
    }

    #[tracing::instrument(skip_all)]
    async fn rebuild_search_index(
        &self,
        request: Request<pb::RebuildSearchIndexRequest>,
    ) -> Result<Response<pb::RebuildSearchIndexResponse>, Status> {
        let caller = Caller::required(&request)?;
        crate::search::parse::rebuild(request.get_ref())?;
        Ok(Response::new(
            crate::search::rebuild(&self.search, &caller, self.ctx.clock.now()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn get_price_reference(
        &self,
        request: Request<pb::GetPriceReferenceRequest>,
    ) -> Result<Response<pb::GetPriceReferenceResponse>, Status> {
        let caller = Caller::required(&request)?;
        let query = crate::prices::parse::PriceReference::parse(request.get_ref())?;
        Ok(Response::new(self.prices.reference(&caller, query).await?))
    }
}
