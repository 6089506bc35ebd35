from importlib.util import find_spec

from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.api.v2.router import WagtailAPIRouter
from wagtail.api.v2.views import PagesAPIViewSet
from wagtail.contrib.sitemaps.views import sitemap
from wagtail.documents import urls as wagtaildocs_urls
from wagtail.documents.api.v2.views import DocumentsAPIViewSet

# Wagtail's API v2 and v3, sitemap and document URLs, as many sites have them: protected
# pages (and documents) must stay out of all of them (docs/protected-channels.md).
api_v2 = WagtailAPIRouter("wagtailapi")
api_v2.register_endpoint("pages", PagesAPIViewSet)
api_v2.register_endpoint("documents", DocumentsAPIViewSet)

urlpatterns = []
if find_spec("wagtail.api.v3") is not None:  # Wagtail 8; 7.4 has no API v3
    from wagtail.api.v3.urls import api as api_v3

    urlpatterns.append(path("api/v3/", api_v3.urls))

urlpatterns += [
    path("admin/", include(wagtailadmin_urls)),
    path("access/", include("wagtail_member_access.urls")),
    path("api/v2/", api_v2.urls),
    path("sitemap.xml", sitemap),
    path("documents/", include(wagtaildocs_urls)),
    path("", include(wagtail_urls)),
]
