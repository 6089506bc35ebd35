"""URLs of the example site. The ``access/`` line is the install contract of
wagtail-member-access: it comes before Wagtail's catch-all page serving."""

from __future__ import annotations

from django.conf import settings
from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

urlpatterns = [
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("access/", include("wagtail_member_access.urls")),
    # Demo only: the page listing sent emails (404 unless DEBUG).
    path("outbox/", include("demo_outbox.urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

urlpatterns += [path("", include(wagtail_urls))]
