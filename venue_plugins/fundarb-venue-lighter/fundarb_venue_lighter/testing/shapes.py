"""Lighter's response shapes, complete: every field the SDK's pydantic models require is present.

Numbers that Lighter sends as strings are strings here; those it sends as JSON numbers are numbers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fundarb_venue_lighter.testing.exchange import LIMIT, TIF_NAMES, Account, FakeExchange, FakeOrder, MarketSpec

__all__ = ["account", "order", "order_book", "order_book_detail", "simple_order"]

Json = dict[str, Any]


def _s(value: Decimal, places: int | None = None) -> str:
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places))
    return format(value, "f")


def _market_common(spec: MarketSpec, exchange: FakeExchange) -> Json:
    return {
        "symbol": spec.symbol,
        "market_id": spec.market_id,
        "market_type": "perp",
        "base_asset_id": 0,
        "quote_asset_id": 3,
        "status": "active",
        "taker_fee": spec.taker_fee,
        "maker_fee": spec.maker_fee,
        "liquidation_fee": "1.0000",
        "min_base_amount": _s(spec.min_base_amount, spec.size_decimals),
        "min_quote_amount": _s(spec.min_quote_amount, 6),
        "supported_size_decimals": spec.size_decimals,
        "supported_price_decimals": spec.price_decimals,
        "supported_quote_decimals": spec.size_decimals + spec.price_decimals,
        "order_quote_limit": "281474976.710655",
        "is_maker_fee_enabled": True,
        "is_taker_fee_enabled": True,
        "created_at": "2024-01-01T00:00:00Z",
        "multiplier": "1",
        "start_timestamp": 0,
        "end_timestamp": 0,
        "settlement_type": 0,
        "settlement_price": 0,
        "settlement_cap": 0,
        "outcome": 0,
        "default_price": 0,
        "operator_account_index": 0,
        "is_frozen": False,
    }


def order_book(spec: MarketSpec, exchange: FakeExchange) -> Json:
    return {**_market_common(spec, exchange), "open_interest": "0"}


def order_book_detail(spec: MarketSpec, exchange: FakeExchange) -> Json:
    mark = exchange.mark(spec.market_id)
    return {
        **_market_common(spec, exchange),
        "size_decimals": spec.size_decimals,
        "price_decimals": spec.price_decimals,
        "quote_multiplier": 1,
        "default_initial_margin_fraction": spec.default_imf,
        "min_initial_margin_fraction": spec.min_imf,
        "maintenance_margin_fraction": spec.maintenance_mf,
        "closeout_margin_fraction": spec.maintenance_mf // 2,
        "last_trade_price": float(mark),
        "daily_trades_count": len(exchange.trades),
        "daily_base_token_volume": 0.0,
        "daily_quote_token_volume": 0.0,
        "daily_price_low": float(mark),
        "daily_price_high": float(mark),
        "daily_price_change": 0.0,
        "open_interest": 0.0,
        "daily_chart": {},
        "market_config": {
            "market_margin_mode": 0,
            "insurance_fund_account_index": 0,
            "liquidation_mode": 0,
            "force_reduce_only": False,
            "trading_hours": "",
            "hidden": False,
            "rfq_enabled": False,
        },
        "strategy_index": 0,
        "funding_clamp_small": "0.0500",
        "funding_clamp_big": "4.0000",
        "base_interest_rate": "0.0100",
        "mark_price": _s(mark),
        "index_price": _s(mark),
        "market_flags": 0,
        "funding_premium_multiplier": 1,
    }


def simple_order(o: FakeOrder, spec: MarketSpec) -> Json:
    return {
        "order_index": o.order_index,
        "order_id": str(o.order_index),
        "owner_account_index": o.account,
        "initial_base_amount": _s(Decimal(o.initial).scaleb(-spec.size_decimals)),
        "remaining_base_amount": _s(Decimal(o.remaining).scaleb(-spec.size_decimals)),
        "price": _s(Decimal(o.price).scaleb(-spec.price_decimals)),
        "order_expiry": o.expiry,
        "transaction_time": o.created_ms * 1000,
    }


def order(o: FakeOrder, spec: MarketSpec) -> Json:
    size = spec.size_decimals
    return {
        "order_index": o.order_index,
        "client_order_index": o.client_order_index,
        "order_id": str(o.order_index),
        "client_order_id": str(o.client_order_index),
        "market_index": o.market_id,
        "owner_account_index": o.account,
        "initial_base_amount": _s(Decimal(o.initial).scaleb(-size)),
        "price": _s(Decimal(o.price).scaleb(-spec.price_decimals)),
        "nonce": o.nonce,
        "remaining_base_amount": _s(Decimal(o.remaining).scaleb(-size)),
        "is_ask": o.is_ask,
        "base_size": o.initial,
        "base_price": o.price,
        "filled_base_amount": _s(Decimal(o.filled).scaleb(-size)),
        "filled_quote_amount": _s(o.filled_quote),
        "side": "sell" if o.is_ask else "buy",
        "type": "limit" if o.type == LIMIT else "market",
        "time_in_force": TIF_NAMES[o.tif],
        "reduce_only": o.reduce_only,
        "trigger_price": "0",
        "order_expiry": o.expiry,
        "status": o.status,
        "trigger_status": "na",
        "trigger_time": 0,
        "parent_order_index": 0,
        "parent_order_id": "0",
        "to_trigger_order_id_0": "0",
        "to_trigger_order_id_1": "0",
        "to_cancel_order_id_0": "0",
        "block_height": 0,
        "timestamp": o.updated_ms,
        "created_at": o.created_ms,
        "updated_at": o.updated_ms,
        "transaction_time": o.updated_ms * 1000,
        "integrator_fee_collector_index": "0",
        "integrator_maker_fee": "0",
        "integrator_taker_fee": "0",
        "order_flags": 0,
        "order_version": 0,
        "market_symbol": spec.symbol,
        "market_kind": "perp",
    }


def account(acct: Account, exchange: FakeExchange) -> Json:
    tav = exchange.total_asset_value(acct)
    margin = exchange.initial_margin(acct)
    positions = []
    for market_id, pos in sorted(acct.positions.items()):
        spec = exchange.markets[market_id]
        mark = exchange.mark(market_id)
        imf = acct.imf.get(market_id, spec.default_imf)
        positions.append(
            {
                "market_id": market_id,
                "symbol": spec.symbol,
                "initial_margin_fraction": _s(Decimal(imf) / 100, 2),  # percent
                "open_order_count": sum(
                    1 for o in acct.orders.values() if o.market_id == market_id and o.status == "open"
                ),
                "pending_order_count": 0,
                "position_tied_order_count": 0,
                "sign": 1 if pos.size >= 0 else -1,
                "position": _s(abs(pos.size)),
                "avg_entry_price": _s(pos.entry, spec.price_decimals),
                "position_value": _s(abs(pos.size) * mark, 6),
                "unrealized_pnl": _s(pos.size * (mark - pos.entry), 6),
                "realized_pnl": _s(pos.realized, 6),
                "liquidation_price": _s(exchange.liquidation_price(acct, market_id)),
                "total_funding_paid_out": _s(pos.funding_paid, 6),
                "margin_mode": acct.margin_mode.get(market_id, 0),
                "allocated_margin": "0.000000",
                "total_discount": "0",
                "margin_set_flag": 0,
            }
        )
    return {
        "code": 0,
        "account_type": 0,
        "index": acct.index,
        "l1_address": "0x" + f"{acct.index:040x}",
        "cancel_all_time": 0,
        "total_order_count": len(acct.orders),
        "total_isolated_order_count": 0,
        "pending_order_count": 0,
        "available_balance": _s(max(Decimal(0), tav - margin), 6),
        "status": 1,
        "collateral": _s(acct.collateral, 6),
        "account_index": acct.index,
        "name": "",
        "description": "",
        "can_invite": False,
        "referral_points_percentage": "0",
        "positions": positions,
        "assets": [
            {
                "symbol": "USDC",
                "asset_id": 3,
                "balance": _s(acct.collateral, 6),
                "locked_balance": "0",
                "margin_balance": _s(tav, 6),
                "margin_mode": "enabled",
                "multiplier": "1",
            }
        ],
        "total_asset_value": _s(tav, 6),
        "cross_asset_value": _s(tav, 6),
        "pool_info": {
            "status": 0,
            "operator_fee": "0",
            "min_operator_share_rate": "0",
            "total_shares": 0,
            "operator_shares": 0,
            "annual_percentage_yield": 0.0,
            "daily_returns": [],
            "share_prices": [],
            "sharpe_ratio": 0.0,
            "strategies": [],
        },
        "shares": [],
        "created_at": acct.created_s,
        "transaction_time": 0,
        "can_rfq": False,
        "cross_initial_margin_requirement": _s(margin, 6),
        "cross_maintenance_margin_requirement": _s(margin / 2, 6),
        "can_rfq_market_ids": [],
        "metadata": {"color": ""},
        "agent_enabled": False,
    }
