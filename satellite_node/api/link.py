"""``/v1/link``: read and set the link profile; see whether a pass is on."""

from __future__ import annotations

from fastapi import APIRouter

from satellite_node.api.deps import ContextDep
from satellite_node.api.views import LinkView
from satellite_node.link.emulator import LinkEmulator
from satellite_node.link.profile import LinkProfile
from shared.protocol.routes import LINK

router = APIRouter(prefix=LINK, tags=["link"])


def link_view(link: LinkEmulator) -> LinkView:
    """The link's profile and what it is doing now (in a pass, when the next one starts)."""
    now = link.elapsed()
    interval = link.profile.up_interval(now)
    in_pass = interval is not None and interval[0] <= now
    return LinkView(
        profile=link.profile,
        in_pass=in_pass,
        elapsed_s=now,
        next_up_s=None if interval is None else interval[0],
        up_until_s=None if interval is None or interval[1] == float("inf") else interval[1],
        utilisation=link.utilisation(),
    )


@router.get("")
def get_link(context: ContextDep) -> LinkView:
    """The link profile, whether a pass is on, and the recent utilisation."""
    return link_view(context.link)


@router.put("")
def put_link(context: ContextDep, profile: LinkProfile) -> LinkView:
    """Replace the link profile (times stay on the link's clock, ``elapsed_s``)."""
    context.link.set_profile(profile)
    context.sender.wake.set()
    if context.planner is not None:  # a new profile is a new pass: plan it now
        context.planner.wake.set()
    return link_view(context.link)
