/* wagtail-member-access: the access-list search of the "Change privacy" dialog
   (admin/privacy_dialog.py). The dialog's HTML arrives later, so listen on the document. */
document.addEventListener('input', (event) => {
  const search = event.target;
  if (!search.matches || !search.matches('[data-wma-list-search]')) return;
  const query = search.value.trim().toLowerCase();
  const lists = search.closest('[data-wma-lists]');
  if (!lists) return;
  lists.querySelectorAll('input[name="member-access_lists"]').forEach((checkbox) => {
    const option = checkbox.closest('label') || checkbox.parentElement;
    const text = option.textContent.trim().toLowerCase();
    // Ticked lists stay visible: what will be saved is always in view.
    option.hidden = Boolean(query) && !checkbox.checked && !text.includes(query);
  });
});
