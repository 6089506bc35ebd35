"""A site that does not serve Wagtail's documents."""

urlpatterns = []
