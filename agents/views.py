"""Agents' own pages."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from agents.selectors import agent_for_user


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "agents/dashboard.html", {"agent": agent_for_user(user=request.user)})
