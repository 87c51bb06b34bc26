-- Note attributes carry no key of their own: dlt links each to its order through `_dlt_parent_id`.
select
    orders.id as order_id,
    notes._dlt_list_idx as position,
    notes.name as attribute_name,
    notes.value as attribute_value
from {{ declared_source('shopify', 'orders__note_attributes') }} as notes
inner join {{ declared_source('shopify', 'orders') }} as orders on notes._dlt_parent_id = orders._dlt_id
