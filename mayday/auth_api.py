"""The token endpoints: sign in for a token, list and revoke tokens."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.http import Http404
from drf_spectacular.utils import extend_schema
from knox.models import AuthToken
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from mayday.signin import SignInRateThrottle
from mayday.tokens import token_issue, tokens_visible_to


class SignInSerializer(serializers.Serializer):
    username = serializers.CharField(min_length=1, max_length=150)
    password = serializers.CharField(
        min_length=1, max_length=4096, trim_whitespace=False, style={"input_type": "password"}
    )


class TokenSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = AuthToken
        fields = ["token_key", "username", "created", "expiry"]


class IssuedTokenSerializer(TokenSerializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`; shown only now.")

    class Meta(TokenSerializer.Meta):
        fields = ["token", *TokenSerializer.Meta.fields]


class ObtainToken(APIView):
    """`POST {"username", "password"}`: a new API token. Wrong credentials get 400; too many tries 429."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [SignInRateThrottle]

    @extend_schema(request=SignInSerializer, responses={200: IssuedTokenSerializer})
    def post(self, request):
        body = SignInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        # The plain Django request: django-axes counts failures and refuses locked accounts on it.
        user = authenticate(request._request, **body.validated_data)
        if user is None:
            raise ValidationError({"non_field_errors": ["Unable to log in with provided credentials."]})
        token, key = token_issue(user=user)
        token.token = key
        return Response(IssuedTokenSerializer(token).data)


class TokenViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Your API tokens (supervisors: also those of the users they manage), by their first characters.
    `DELETE` revokes one at once; websockets opened with it close."""

    serializer_class = TokenSerializer
    lookup_field = "token_key"
    lookup_value_regex = "[A-Za-z0-9]+"
    pagination_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular, for the schema
            return AuthToken.objects.none()
        return tokens_visible_to(user=self.request.user)

    def get_object(self) -> AuthToken:
        for token in self.get_queryset():  # only tokens this user may see, and so revoke
            if token.token_key == self.kwargs["token_key"]:
                return token
        raise Http404("No such token.")
